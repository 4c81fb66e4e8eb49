// A QR code drawn on the server, so no third-party service ever sees what it holds (a TOTP
// seed). It is an SVG in a data: URL for an <img src>: the CSP's img-src allows data: images
// (src/http/securityHeaders.ts), and an SVG shown through <img> never runs anything it holds.
import QRCode from 'qrcode';

/** The text as a QR code, an `data:image/svg+xml` URL. */
export async function qrCodeDataUrl(text: string): Promise<string> {
  // Level M survives a smudged or glared screen; the 4-module quiet zone is what the standard
  // asks for and what phone cameras need to find the code on a busy page.
  const svg = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}
