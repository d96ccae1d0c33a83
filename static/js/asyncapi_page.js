// /docs/events/: the event contract's AsyncAPI document (GET /api/realtime/asyncapi.json) as HTML,
// rendered by AsyncAPI's React component (standalone bundle, from npm via our static files).
(function () {
  const root = document.getElementById("asyncapi");
  window.AsyncApiStandalone.render(
    {
      schema: { url: root.dataset.document, requestOptions: { credentials: "same-origin" } },
      config: { show: { sidebar: true, errors: true } },
    },
    root,
  );
})();
