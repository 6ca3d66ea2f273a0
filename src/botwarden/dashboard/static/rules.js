/* Rules editor: field-name completion for every textarea[data-complete] from the
   <datalist> it names (generated from the rules scheme). A listbox under the textarea;
   ArrowUp/ArrowDown choose, Enter or Tab insert, Escape closes; a click inserts too.
   Inserting fires "input" so htmx checks the expression again. */
(function () {
  "use strict";
  var WORD = /[A-Za-z_][A-Za-z0-9_.]*$/;

  function setup(ta) {
    var list = document.getElementById(ta.getAttribute("aria-controls"));
    var source = document.getElementById(ta.dataset.complete);
    if (!list || !source) return;
    var names = Array.prototype.map.call(source.options, function (o) { return o.value; });
    var shown = [], active = -1, prefix = "";

    function close() {
      list.hidden = true; list.innerHTML = ""; shown = []; active = -1;
      ta.setAttribute("aria-expanded", "false"); ta.removeAttribute("aria-activedescendant");
    }
    function highlight(i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, j) {
        li.setAttribute("aria-selected", j === i ? "true" : "false");
      });
      if (i >= 0) {
        ta.setAttribute("aria-activedescendant", list.children[i].id);
        list.children[i].scrollIntoView({ block: "nearest" });
      }
    }
    function insert(name) {
      var end = ta.selectionStart, start = end - prefix.length;
      ta.value = ta.value.slice(0, start) + name + " " + ta.value.slice(end);
      var caret = start + name.length + 1;
      ta.setSelectionRange(caret, caret);
      close(); ta.focus();
      ta.dispatchEvent(new Event("input", { bubbles: true }));
    }
    function update() {
      var before = ta.value.slice(0, ta.selectionStart), m = WORD.exec(before);
      prefix = m ? m[0] : "";
      if (prefix.length < 2) { close(); return; }
      var p = prefix.toLowerCase();
      shown = names.filter(function (n) { return n.indexOf(p) === 0 && n !== p; }).slice(0, 12);
      if (!shown.length) { close(); return; }
      list.innerHTML = "";
      shown.forEach(function (n, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i; li.setAttribute("role", "option"); li.textContent = n;
        li.addEventListener("mousedown", function (e) { e.preventDefault(); insert(n); });
        list.appendChild(li);
      });
      list.hidden = false; ta.setAttribute("aria-expanded", "true"); highlight(0);
    }
    ta.addEventListener("input", function (e) { if (e.isTrusted) update(); });
    ta.addEventListener("blur", close);
    ta.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { highlight((active + 1) % shown.length); e.preventDefault(); }
      else if (e.key === "ArrowUp") { highlight((active - 1 + shown.length) % shown.length); e.preventDefault(); }
      else if ((e.key === "Enter" || e.key === "Tab") && active >= 0) { insert(shown[active]); e.preventDefault(); }
      else if (e.key === "Escape") { close(); e.preventDefault(); }
    });
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-complete]"), setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
