// Starts Swagger UI on /docs (pages/api_docs.html). A file of its own rather than an
// inline <script>, so the page works under a Content-Security-Policy of script-src 'self'.
// The options are FastAPI's defaults, less the two that reach other hosts: no external
// spec validator badge, and no favicon from FastAPI's site.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
