// Enhancement only: every page works without this file. assets/build.mjs bundles it with the design system's
// components it names into the pages' one deferred script (no further downloads).
import { Button, CharacterCount, ErrorSummary, Header, NotificationBanner, createAll } from "nhsuk-frontend";

import { startCodeActions } from "./access_code.js";
import { enhanceCopyButtons } from "./copy.js";
import { startTimeOut } from "./time_out.js";
import { startExitPage } from "./exit_page.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
// Only the components the templates use (their data-module attributes); tests/web/test_assets.py checks.
for (const component of [Button, CharacterCount, ErrorSummary, Header, NotificationBanner]) createAll(component);

// Conditional reveal: name and contact only matter when raising a concern confidentially or
// openly. Without JavaScript the fields are always shown, under a heading that says so.
for (const group of document.querySelectorAll("[data-speakup-reveal]")) {
  const region = document.getElementById(group.dataset.speakupReveal);
  const radios = [...group.querySelectorAll("input[type=radio]")];
  const update = () => {
    const chosen = radios.find((radio) => radio.checked);
    // A field with an error is never hidden: the error summary links to it.
    const show = Boolean(chosen && chosen.value !== "anonymous") || Boolean(region.querySelector(".nhsuk-form-group--error"));
    region.hidden = !show;
    // aria-expanded is not allowed on a radio (axe: aria-allowed-attr), so only aria-controls is set.
    for (const radio of radios) {
      if (radio.value !== "anonymous") radio.setAttribute("aria-controls", region.id);
    }
  };
  group.addEventListener("change", update);
  update();
}

// A folded section (a details element: the case page's, templates/guardian/case.html) opens when a link leads to it.
// Its id is the details element's own, so without this file the link still leads to its summary; no browser opens
// a details for a link to the details itself (Chromium does for one into its content, hidden in the others).
const openLinkedSection = (id) => {
  const section = id && document.getElementById(id);
  if (section instanceof HTMLDetailsElement) section.open = true;
};
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest('a[href^="#"]') : null;
  if (link) openLinkedSection(decodeURIComponent(link.hash.slice(1)));  // before the browser scrolls to it
});
window.addEventListener("hashchange", () => openLinkedSection(decodeURIComponent(location.hash.slice(1))));
openLinkedSection(decodeURIComponent(location.hash.slice(1)));

// Copy and Print beside an access code (assets/access_code.js).
startCodeActions();
// "Copy link" beside the enrolment link (assets/copy.js).
enhanceCopyButtons();
// The time-out warning on signed-in pages (assets/time_out.js).
startTimeOut();
// "Exit this page" on the pages of someone raising or following up a concern (assets/exit_page.js).
startExitPage();
