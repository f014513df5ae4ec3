// Copy and Print beside an access code (the code_actions macro in speakup/templates/macros.html). Enhancement only:
// the buttons are hidden in the page and shown here, so without this script there is no button that cannot work;
// the browser's own Print still prints only the slip (the print styles in assets/app.css). No inline script: the
// pages' Content-Security-Policy allows only this file.

import { copyText } from "./copy.js";

const COPIED = "Copied. Paste it only somewhere private, such as a note on your own phone: not on this computer or in your work email.";
const NOT_COPIED = "Your browser did not let us copy it. Write it on paper instead.";

export function startCodeActions(root = document) {
  for (const actions of root.querySelectorAll("[data-speakup-code-actions]")) {
    const code = document.getElementById(actions.dataset.speakupCodeActions);
    if (!code) continue;
    const copy = actions.querySelector("[data-speakup-copy]");
    const print = actions.querySelector("[data-speakup-print]");
    const status = actions.querySelector("[data-speakup-copy-status]");
    copy.addEventListener("click", async () => {
      status.textContent = "";
      try {
        await copyText(code);
        status.textContent = COPIED;
      } catch (refused) {
        status.textContent = NOT_COPIED;
      }
    });
    print.addEventListener("click", () => window.print());
    actions.hidden = false;
  }
}
