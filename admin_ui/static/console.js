// The console's behaviour beyond htmx: kept in this file (no inline script: the console's
// Content-Security-Policy allows scripts from /admin/static only).
(function () {
  "use strict";

  // A failed htmx action (4xx/5xx, or no answer at all) is never silent: its reason is shown
  // in the message region and the part of the page it came from is fetched again, since the
  // failure usually means that part was stale (another tab or another operator changed it).
  function reasonOf(xhr) {
    if (!xhr) return "The console could not be reached: check the connection and try again.";
    var text = xhr.responseText || "";
    try {
      var doc = new DOMParser().parseFromString(text, "text/html");
      var reason = doc.querySelector("#error .reason");
      var details = Array.prototype.map.call(doc.querySelectorAll("#error li"), function (li) { return li.textContent.trim(); });
      if (reason) return [reason.textContent.trim()].concat(details).join(" ");
    } catch (e) { /* not HTML: fall through */ }
    return "The action failed (" + xhr.status + " " + (xhr.statusText || "") + ").";
  }

  function showMessage(text, kind) {
    var region = document.getElementById("messages");
    if (!region) return;
    var p = document.createElement("p");
    p.className = "flash " + (kind || "bad");
    p.setAttribute("role", "alert");
    p.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link dismiss";
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { p.remove(); });
    p.appendChild(document.createTextNode(" "));
    p.appendChild(close);
    region.replaceChildren(p);
  }

  function refreshMain() {
    if (!window.htmx || !document.getElementById("main")) return;
    // The whole page (HX-Boosted), of which only <main> is swapped in: every fragment is fresh.
    window.htmx.ajax("GET", window.location.pathname + window.location.search, {
      target: "#main", select: "#main", swap: "outerHTML", headers: { "HX-Boosted": "true" }
    });
  }

  document.addEventListener("htmx:responseError", function (evt) {
    showMessage(reasonOf(evt.detail.xhr));
    if (evt.detail.requestConfig && evt.detail.requestConfig.verb !== "get") refreshMain();
  });
  document.addEventListener("htmx:sendError", function () { showMessage(reasonOf(null)); });
  // A list's filters refused (400/422) come back as the list with the errors above it: swap it in.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    var get = evt.detail.requestConfig && evt.detail.requestConfig.verb === "get";
    if (get && (xhr.status === 400 || xhr.status === 422) && xhr.responseText.indexOf('id="error"') < 0) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
  // A new action clears the message of the last one (a page refreshing itself does not).
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var region = document.getElementById("messages");
    if (region && evt.detail.requestConfig && evt.detail.requestConfig.verb !== "get") region.replaceChildren();
  });

  // A destructive action asks first: data-confirm on the button pressed, or on its form. Caught
  // before htmx sees the submit, so one question serves plain and htmx forms alike.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var button = evt.submitter;
    var question = (button && button.getAttribute("data-confirm")) || (form && form.getAttribute && form.getAttribute("data-confirm"));
    if (question && !window.confirm(question)) {
      evt.preventDefault();
      evt.stopImmediatePropagation();
    }
  }, true);
})();
