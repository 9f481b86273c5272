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

// A throttled login (429 + Retry-After): count the wait down and keep the form's button
// off until it is over, so the browser does not post again into the throttle.
document.querySelectorAll("[data-retry-after]").forEach(function (counter) {
  var form = counter.closest("form");
  var button = form && form.querySelector("button[type=submit]");
  var left = parseInt(counter.getAttribute("data-retry-after"), 10) || 1;
  if (button) button.disabled = true;
  var timer = setInterval(function () {
    left -= 1;
    counter.textContent = String(Math.max(left, 0));
    if (left <= 0) {
      clearInterval(timer);
      if (button) button.disabled = false;
    }
  }, 1000);
});
