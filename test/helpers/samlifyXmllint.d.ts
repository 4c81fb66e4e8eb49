// @authenio/samlify-xmllint-wasm ships no types: samlify's schema validator, one function.
declare module '@authenio/samlify-xmllint-wasm' {
  export function validate(xml: string): Promise<string>;
}
