// Ask for confirmation on forms marked data-confirm before an irreversible step.
document.addEventListener("submit", function (event) {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
