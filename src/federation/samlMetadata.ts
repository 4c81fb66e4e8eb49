// Reading an IdP's SAML metadata (the XML an IdP publishes at a URL, or an operator exports):
// its entity id, its single sign-on URL for the HTTP-Redirect binding, its single logout URL for
// that binding when it has one, and its signing certificates — every one listed, so a rotation the IdP announces in advance keeps working.
// A DOCTYPE (entity expansion) is refused before parsing, as everywhere SAML XML is read.
import { DOMParser } from '@xmldom/xmldom';

/** The little of the DOM this reads (the project's TypeScript has no DOM library). */
interface XmlElement {
  localName: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
  getElementsByTagNameNS(namespace: string, name: string): ArrayLike<XmlElement>;
}

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export interface IdpMetadata {
  idp_entity_id: string;
  sso_url: string;
  idp_certificates: string[];
  slo_url?: string;
}

const pem = (base64: string) => {
  const body = base64.replace(/\s+/g, '');
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)?.join('\n')}\n-----END CERTIFICATE-----`;
};

/** The IdP's entity id, SSO URL, signing certificates and SLO URL (optional), or what is missing from the XML. */
export function parseIdpMetadata(xml: string): { metadata: IdpMetadata } | { problem: string } {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return { problem: 'contains a DOCTYPE, which is never accepted' };
  const problems: string[] = [];
  const document = new DOMParser({
    errorHandler: { error: (message: string) => problems.push(message), fatalError: (message: string) => problems.push(message) },
  }).parseFromString(xml, 'text/xml');
  if (problems.length || !document?.documentElement) return { problem: 'is not well-formed XML' };
  const root = document.documentElement as unknown as XmlElement;
  const entity =
    root.localName === 'EntityDescriptor' ? root : (root.getElementsByTagNameNS(MD, 'EntityDescriptor')[0] as XmlElement | undefined);
  const entityId = entity?.getAttribute('entityID');
  if (!entity || !entityId) return { problem: 'has no EntityDescriptor with an entityID' };
  const idp = entity.getElementsByTagNameNS(MD, 'IDPSSODescriptor')[0] as XmlElement | undefined;
  if (!idp) return { problem: 'describes no identity provider (IDPSSODescriptor)' };
  const sso = Array.from(idp.getElementsByTagNameNS(MD, 'SingleSignOnService')).find((e) => e.getAttribute('Binding') === REDIRECT);
  const location = sso?.getAttribute('Location');
  if (!location) return { problem: 'has no SingleSignOnService for the HTTP-Redirect binding' };
  const certificates = Array.from(idp.getElementsByTagNameNS(MD, 'KeyDescriptor'))
    .filter((key) => !key.getAttribute('use') || key.getAttribute('use') === 'signing')
    .flatMap((key) => Array.from(key.getElementsByTagNameNS(DS, 'X509Certificate')))
    .map((certificate) => pem(certificate.textContent ?? ''))
    .filter((certificate, index, all) => all.indexOf(certificate) === index);
  if (!certificates.length) return { problem: 'has no signing certificate (KeyDescriptor use="signing")' };
  const slo = Array.from(idp.getElementsByTagNameNS(MD, 'SingleLogoutService'))
    .find((e) => e.getAttribute('Binding') === REDIRECT)
    ?.getAttribute('Location');
  return { metadata: { idp_entity_id: entityId, sso_url: location, idp_certificates: certificates, ...(slo && { slo_url: slo }) } };
}
