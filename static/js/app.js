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
