// Trajectum's own configuration of Swagger UI: this service's spec, and no online validator
// (its badge would call swagger.io; nothing leaves the host).
window.onload = function () {
  window.ui = SwaggerUIBundle({
    "url": "/api/v1/openapi.json",
    "dom_id": "#swagger-ui",
    "deepLinking": true,
    "validatorUrl": "none",
    "presets": [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    "plugins": [SwaggerUIBundle.plugins.DownloadUrl],
    "layout": "StandaloneLayout"
  });
};
