// "Exit this page" (the exit_this_page block in speakup/templates/base.html), as GOV.UK's pattern has it. Without
// this script its button is a plain link to EXIT_PAGE_URL. With it, the button or Shift pressed three times within
// five seconds leaves at once: the page is hidden first, this site's entry in the tab's History is replaced by the
// exit page (location.replace, so Back does not return here), and the service is asked in the background
// (/exit, keepalive) to forget what it keeps of a half-typed form for this browser.

const PRESSES = 3;
const WITHIN_MS = 5000;

export function startExitPage(root = document) {
  const holder = root.querySelector("[data-speakup-exit-page]");
  if (!holder) return;
  const link = holder.querySelector("a");
  const status = holder.querySelector("[data-speakup-exit-status]");
  const leave = () => {
    document.documentElement.classList.add("speakup-exiting");
    try {
      fetch(holder.dataset.speakupExitForget, { credentials: "same-origin", keepalive: true, redirect: "manual" }).catch(() => {});
    } catch {
      // Leaving matters more than forgetting: the kept words go anyway after KEPT_FORM_MINUTES.
    }
    window.location.replace(link.href);
  };
  link.addEventListener("click", (event) => {
    event.preventDefault();
    leave();
  });
  let presses = 0;
  let timer;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Shift") {
      presses = 0;
      return;
    }
    if (event.repeat) return;
    presses += 1;
    clearTimeout(timer);
    if (presses >= PRESSES) {
      status.textContent = "Exit this page activated";
      leave();
      return;
    }
    const left = PRESSES - presses;
    status.textContent = `Shift, press ${left} more ${left === 1 ? "time" : "times"} to exit.`;
    timer = setTimeout(() => {
      presses = 0;
      status.textContent = "Exit this page expired.";
    }, WITHIN_MS);
  });
}
