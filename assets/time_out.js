// The time-out warning (WCAG 2.2.1, Timing Adjustable; the GOV.UK and HMRC "timeout warning" pattern). A signed-in
// page says how long it stays open without activity, with or without this script (macros.html, time_out). With it,
// a modal dialog warns before the session ends, counting down in minutes, and offers "Stay signed in" (a POST to the
// keep-alive address, which starts the idle time again) and "Sign out" (the page's own sign-out form). When the time
// runs out the page sends its time-out form, so an unattended shared screen stops showing the case or concern
// (threat-model.md, "The next person at a shared computer"); a guardian's unsent words go with it, to be sealed to
// their own key for their next sign-in (speakup/domain/time_outs.py). The times come from the server (data-*), never
// from this file: a staff session's absolute limit is warned of too, and "Stay signed in" is not offered then.
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const LATE = SECOND; // sent a moment after the end, so the server has seen the session end too
const SKIPPED = new Set(["csrf_token", "page", "form_action"]);

function inMinutes(ms) {
  const minutes = Math.max(1, Math.ceil(ms / MINUTE));
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

function isTyped(field) {
  if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
  if (field.tagName === "SELECT") return [...field.options].some((option) => option.selected !== option.defaultSelected);
  if (field.type === "hidden" || field.type === "password" || field.type === "file") return false;
  return "defaultValue" in field && field.value !== field.defaultValue;
}

/** The form on the page with the most typed in it (never one with a password, nor the time-out form itself): a
 * message half written matters more than a changed choice in another form. */
function typedForm(timeOutForm) {
  let best = null;
  let bestScore = 0;
  for (const candidate of document.forms) {
    if (candidate === timeOutForm || candidate.querySelector("input[type=password]")) continue;
    const typed = [...candidate.elements].filter((field) => field.name && isTyped(field));
    const score = typed.reduce((total, field) => total + 1 + (field.tagName === "SELECT" ? 0 : field.value.length), 0);
    if (score > bestScore) [best, bestScore] = [candidate, score];
  }
  return best;
}

/** The address typed words go to: the form's own, or, in a form whose buttons each post to their own address (the
 * guardian's case page, one form of many sections), that of the first button after the field with the most typed.
 * Only the form's own buttons: the language chooser's, in the page's header, belong to it too (their ``form``
 * attribute) but send no words anywhere but back to the page. */
function actionFor(form) {
  const buttons = [...form.elements].filter((element) => element.hasAttribute("formaction") && form.contains(element));
  const typed = [...form.elements].filter((field) => field.name && isTyped(field));
  if (!buttons.length || !typed.length) return form.action;
  const most = typed.reduce((best, field) => ((field.value || "").length > (best.value || "").length ? field : best));
  const after = buttons.find((button) => most.compareDocumentPosition(button) & Node.DOCUMENT_POSITION_FOLLOWING);
  return (after || buttons[buttons.length - 1]).formAction;
}

/** The fields of the form with something typed in it, as [name, value] pairs, with the address it is sent to. */
function typedFields(timeOutForm) {
  const typed = typedForm(timeOutForm);
  if (!typed) return [];
  const fields = [["form_action", new URL(actionFor(typed), window.location.href).pathname]];
  for (const field of typed.elements) {
    if (!field.name || SKIPPED.has(field.name) || field.disabled || field.type === "file" || field.type === "password") continue;
    if (field.tagName === "BUTTON") continue; // a button holds nothing typed (the chooser's name a language)
    if ((field.type === "checkbox" || field.type === "radio") && !field.checked) continue;
    fields.push([field.name, field.value]);
  }
  return fields;
}

export function startTimeOut() {
  const form = document.querySelector("form[data-speakup-time-out]");
  const dialog = document.getElementById("time-out-dialog");
  if (!form || !dialog || typeof dialog.showModal !== "function") return;
  const data = form.dataset;
  const loaded = Date.now();
  const warning = Number(data.warningSeconds) * SECOND;
  let idleEnd = loaded + Number(data.secondsLeft) * SECOND;
  const hardEnd = data.absoluteSecondsLeft === undefined ? Infinity : loaded + Number(data.absoluteSecondsLeft) * SECOND;
  const stay = dialog.querySelector("[data-speakup-stay]");
  const signOut = dialog.querySelector("button[form]");
  const idleText = document.getElementById("time-out-idle");
  const hardText = document.getElementById("time-out-absolute");
  const said = dialog.querySelector("[data-speakup-countdown-said]");
  let opener = null;
  let shown = "";
  let hardDismissed = false;
  let finished = false;

  const ending = () => Math.min(idleEnd, hardEnd);
  // A guardian's typed words go with the page's last request, to be sealed to their own key if the session has
  // ended (never a reporter's: they have no key, and the page after would show them to whoever sits down next).
  const carried = () => ("keepsWords" in data ? typedFields(form) : []);
  const atHardLimit = () => hardEnd <= idleEnd;

  function count(left, announce) {
    const words = inMinutes(left);
    if (words === shown) return;
    for (const countdown of dialog.querySelectorAll("[data-speakup-countdown]")) countdown.textContent = words;
    // Said once a minute, not every second: the dialog's own description is read when it opens.
    if (announce) said.textContent = `${words} left before you are signed out.`;
    shown = words;
  }

  function open(left) {
    const hard = atHardLimit();
    idleText.hidden = hard;
    if (hardText) hardText.hidden = !hard; // a reporter's page has no absolute limit, nor its words
    stay.hidden = hard;
    dialog.setAttribute("aria-describedby", hard ? hardText.id : idleText.id);
    opener = document.activeElement;
    shown = "";
    said.textContent = "";
    count(left, false);
    dialog.showModal();
    (hard ? signOut : stay).focus();
  }

  function close() {
    if (dialog.open) dialog.close();
    if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
    opener = null;
  }

  function finish() {
    if (finished) return;
    finished = true;
    for (const [name, value] of carried()) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    form.submit();
  }

  async function stayOn() {
    if (atHardLimit()) return;
    let answer;
    const body = new FormData(form);
    for (const [name, value] of carried()) body.append(name, value);
    try {
      answer = await fetch(data.keepAliveUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        redirect: "manual",
      });
    } catch {
      said.textContent = "Speak Up could not be reached. Check your connection, then choose Stay signed in again.";
      return;
    }
    if (answer.status !== 204) {
      // Too late: the session had ended, and that request ended it here as the time-out form would have (the words
      // sent with it kept for the next sign-in).
      finished = true;
      window.location.assign(data.endedUrl);
      return;
    }
    // The time the session has now, whichever limit is nearer: the absolute limit's answer is the same end as hardEnd
    // (give or take the rounding of seconds), so the dialog that opens next is the one that offers no "Stay".
    const left = Number(answer.headers.get("Speakup-Seconds-Left"));
    idleEnd = Date.now() + (left > 0 ? left * SECOND : Number(data.idleSeconds) * SECOND);
    if (idleEnd >= hardEnd - 2 * SECOND) idleEnd = hardEnd;
    close();
  }

  stay.addEventListener("click", stayOn);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault(); // Escape: stay signed in (at the absolute limit, only the dialog closes)
    if (atHardLimit()) {
      hardDismissed = true;
      close();
    } else {
      stayOn();
    }
  });

  function tick() {
    const left = ending() - Date.now();
    if (left <= -LATE) {
      finish();
      return;
    }
    if (left <= warning && !(hardDismissed && atHardLimit())) {
      if (dialog.open) count(left, true);
      else open(left);
    }
    window.setTimeout(tick, SECOND);
  }
  tick();
}
