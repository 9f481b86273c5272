// Progress on anything slow: a submitted form's button shows Pico's busy spinner
// (aria-busy) until the next page arrives; htmx requests get the same through its
// htmx-request class.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  form.querySelectorAll("button[type=submit]").forEach(function (button) {
    button.setAttribute("aria-busy", "true");
  });
});
