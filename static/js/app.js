// Ask for confirmation on forms marked data-confirm before an irreversible step.
document.addEventListener("submit", function (event) {
  const form = event.target;
  if (!form.hasAttribute("data-confirm")) return;
  // The page gives the question in the user's language; an empty one gets the general one.
  const question = form.getAttribute("data-confirm") ||
    gettext("This step cannot be undone. Continue?");
  if (!window.confirm(question)) {
    event.preventDefault();
  }
});

// Checklist shortcuts: a button marked data-fill="GROUP" data-answer="yes|no" ticks that
// answer for every question of [data-group=GROUP], except those computed by the system.
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-fill]");
  if (!button) return;
  const form = button.closest("form");
  const group = form && form.querySelector(`[data-group="${button.dataset.fill}"]`);
  if (!group) return;
  group.querySelectorAll(`input[type=radio][value="${button.dataset.answer}"]`).forEach((radio) => {
    if (!radio.closest("[data-computed]")) radio.checked = true;
  });
});

// Narrow screens: each table cell carries its column's header as data-label, so that a table
// shown as stacked cards (app.css, below 768 px) still says what each value is.
function labelTableCells(root) {
  root.querySelectorAll("table.table").forEach((table) => {
    const headers = [...table.querySelectorAll("thead tr:first-child > th")].map((th) =>
      th.textContent.trim()
    );
    if (!headers.length) return;
    table.classList.add("table-stackable");
    table.querySelectorAll("tbody tr").forEach((row) => {
      let column = 0;
      [...row.children].forEach((cell) => {
        const label = headers[column];
        if (label && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", label);
        column += cell.colSpan || 1;
      });
    });
  });
}
labelTableCells(document);

// The infusion form's dose panel: beside the fields on a wide screen, right after the dose
// fields on a narrow one ([data-dock-slot] names where it goes).
(function () {
  const slot = document.querySelector("[data-dock-slot]");
  const panel = slot && document.getElementById(slot.dataset.dockSlot);
  if (!panel) return;
  const home = panel.parentElement;
  const narrow = window.matchMedia("(max-width: 767.98px)");
  const place = () => (narrow.matches ? slot : home).appendChild(panel);
  narrow.addEventListener("change", place);
  place();
})();
