// SDM's own behaviour beyond htmx: copying a value to the clipboard (the one-time invite link).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const said = document.getElementById(button.dataset.copy + "-copied");
  if (!field) return;
  const done = (ok) => {
    if (said) said.textContent = ok ? "Copied to the clipboard." : "Select the link and copy it.";
    button.textContent = ok ? "Copied" : "Copy";
  };
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(() => done(true), () => done(false));
  } else {
    done(document.execCommand("copy"));
  }
});

// The clock of a step a test waits on: the server says how long it had waited when it drew
// the step; the page counts on from there until the next answer replaces it.
const seen = new WeakMap();
setInterval(() => {
  for (const clock of document.querySelectorAll("[data-waited]")) {
    if (!seen.has(clock)) seen.set(clock, Date.now());
    const waited = Number(clock.dataset.waited) + (Date.now() - seen.get(clock)) / 1000;
    clock.textContent = `${Math.floor(waited)} s`;
  }
}, 1000);
