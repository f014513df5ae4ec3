// Copying an element's text, the one way for every Copy button (the access code's in assets/access_code.js, and here
// "Copy link" after a link to be copied whole: data-speakup-copy-link on the paragraph holding it names the element
// whose text is copied, the enrolment link an administrator sends to a newcomer, its markup left exactly as it was).
// Enhancement only: without this script there is no button, and the text stays plain, selectable text. No inline
// script or style, so the pages' strict Content-Security-Policy holds.

/** Copies text with the Clipboard API, or where it is missing (an address browsers do not count as secure) by
 * selecting the element's text and asking the browser to copy the selection. */
export async function copyText(element) {
  const text = element.textContent.trim();
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  if (!document.execCommand("copy")) throw new Error("copy refused");
}

export function enhanceCopyButtons(root = document) {
  for (const holder of root.querySelectorAll("[data-speakup-copy-link]")) {
    const element = document.getElementById(holder.dataset.speakupCopyLink);
    if (!element) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "nhsuk-button nhsuk-button--secondary nhsuk-button--small";
    button.textContent = "Copy link";
    // Said once a copy is made (or not), to everyone: a role="status" region already on the page before it is filled.
    const status = document.createElement("p");
    status.className = "nhsuk-body-s";
    status.id = `${element.id}-copied`;
    status.setAttribute("role", "status");
    button.addEventListener("click", async () => {
      status.textContent = "";
      try {
        await copyText(element);
        status.textContent = "Link copied";
      } catch {
        status.textContent = "Could not copy the link. Select it and copy it yourself.";
      }
    });
    holder.after(button, status);
  }
}
