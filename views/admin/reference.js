// Starts Swagger UI on the admin API's OpenAPI document. A file of its own, not an inline
// script, so the page works under our Content-Security-Policy (script-src 'self').
window.addEventListener('load', () => {
  window.ui = window.SwaggerUIBundle({
    url: './openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null, // never send our document to a third-party validator
    persistAuthorization: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
