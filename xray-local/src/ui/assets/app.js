// xray-local ui: the little the pages do in the browser. Everything shown comes from the server, already escaped;
// this script only opens and closes the details of a waterfall row and never writes HTML.
"use strict";

function toggle(row) {
  const details = document.querySelector(`tr.details[data-for="${row.dataset.entity}"]`);
  if (!details) return;
  details.hidden = !details.hidden;
  row.classList.toggle("open", !details.hidden);
}

document.addEventListener("click", (event) => {
  const row = event.target.closest("tr.entity");
  if (row && !event.target.closest("a")) toggle(row);
});

document.addEventListener("keydown", (event) => {
  const row = event.target.closest && event.target.closest("tr.entity");
  if (row && (event.key === "Enter" || event.key === " ")) {
    event.preventDefault();
    toggle(row);
  }
});
