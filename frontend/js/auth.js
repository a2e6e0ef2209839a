// The sign-in screen and the account bar: sign in, create an account (and confirm it with the
// emailed code where the pool asks for one), sign out.

import { CognitoError, authMessage, cognito } from "./cognito.js";
import { config } from "./config.js";
import { loadGallery } from "./gallery.js";
import { showHealthControl } from "./health.js";
import { beginSession, endSession, isAdmin, makeSession, session, signedInEmail } from "./session.js";
import { $, announce } from "./ui.js";

export function showAccount() {
  $("account-email").textContent = signedInEmail();
  const admin = isAdmin();
  $("scope-all-control").hidden = !admin;
  showHealthControl(admin);
  if (!admin && $("scope-all").checked) {
    $("scope-all").checked = false;
    if (!$("app").hidden) loadGallery(true);
  }
}

export function showSignedIn() {
  $("auth").hidden = true;
  $("account").hidden = false;
  $("app").hidden = false;
  showAccount();
}

export function showSignIn(message = "") {
  $("app").hidden = true;
  $("account").hidden = true;
  $("auth").hidden = false;
  $("sign-in-form").hidden = false;
  $("confirm-form").hidden = true;
  setAuthMessage(message);
}

function setAuthMessage(text, kind = "error") {
  $("auth-message").textContent = text;
  $("auth-message").dataset.kind = kind;
}

async function signIn(email, password) {
  const result = await cognito("InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  const tokens = result.AuthenticationResult;
  if (!tokens) {
    // A challenge (a new password, MFA) that this page does not handle.
    throw new CognitoError(result.ChallengeName || "Challenge",
      result.ChallengeName === "NEW_PASSWORD_REQUIRED"
        ? "This account must choose a new password before it can sign in here. Ask an administrator."
        : "This account needs a sign-in step this page does not support.");
  }
  $("password").value = ""; // not kept on the page either
  $("code").value = "";
  await beginSession(makeSession(tokens.IdToken, tokens.RefreshToken), { focus: true });
  announce(`Signed in as ${signedInEmail()}.`);
}

function showConfirmStep(email) {
  $("confirm-email").textContent = email;
  $("sign-in-form").hidden = true;
  $("confirm-form").hidden = false;
  $("code").value = "";
  $("code").focus();
}

async function withBusy(form, work) {
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    await work();
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute("aria-busy");
  }
}

function showPasswordRule() {
  // The pool's rule, under the password from the start (the field's description), not first
  // learnt from a refused sign-up.
  const min = config.auth.passwordMinLength;
  if (min) {
    $("password-rule").textContent =
      `For a new account: at least ${min} characters. A few words you will remember make a strong one.`;
  }
}

export function wireAuth() {
  showPasswordRule();
  $("sign-in-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const creating = e.submitter?.value === "sign-up";
    const email = $("email").value.trim();
    const password = $("password").value;
    setAuthMessage("");
    withBusy(e.target, async () => {
      try {
        if (creating) {
          const result = await cognito("SignUp", {
            Username: email,
            Password: password,
            UserAttributes: [{ Name: "email", Value: email }],
          });
          const confirmed = result.UserConfirmed ?? !config.auth.confirmSignUp;
          if (!confirmed) return showConfirmStep(email);
          announce("Account created.");
        }
        await signIn(email, password);
      } catch (err) {
        if (err.signedOut) return;
        if (err.type === "UserNotConfirmedException") {
          showConfirmStep(email);
        }
        setAuthMessage(authMessage(err, creating ? "sign-up" : "sign-in"));
      }
    });
  });

  $("confirm-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const email = $("email").value.trim();
    setAuthMessage("");
    withBusy(e.target, async () => {
      try {
        await cognito("ConfirmSignUp", { Username: email, ConfirmationCode: $("code").value.trim() });
      } catch (err) {
        const text = authMessage(err, "confirm");
        // Already confirmed: back to the sign-in form, where the password is.
        if (err.type === "NotAuthorizedException" && !/disabled/i.test(err.message)) showSignIn(text);
        else setAuthMessage(text);
        return;
      }
      announce("Account confirmed.");
      if (!$("password").value) {
        showSignIn("");
        setAuthMessage("Your account is confirmed. Sign in with your password.", "info");
        $("password").focus();
        return;
      }
      try {
        await signIn(email, $("password").value);
      } catch (err) {
        showSignIn(authMessage(err, "sign-in"));
      }
    });
  });

  $("resend-code").addEventListener("click", () => {
    const email = $("email").value.trim();
    setAuthMessage("");
    withBusy($("confirm-form"), async () => {
      try {
        await cognito("ResendConfirmationCode", { Username: email });
        setAuthMessage(`A new code is on its way to ${email}.`, "info");
      } catch (err) {
        setAuthMessage(authMessage(err, "resend"));
      }
    });
  });

  $("confirm-back").addEventListener("click", () => {
    showSignIn("");
    $("email").focus();
  });

  $("sign-out").addEventListener("click", async () => {
    const button = $("sign-out");
    const ending = session;
    if (!ending) return;
    button.disabled = true;
    let message = "";
    try {
      // Revoke first, so the refresh token is dead before the page says it is signed out.
      await cognito("RevokeToken", { Token: ending.refreshToken });
    } catch (err) {
      // NotAuthorizedException: the token was no longer valid anyway.
      if (err.type !== "NotAuthorizedException") {
        message = `You are signed out on this device, but the session could not be ended everywhere: ${
          err.type === "NetworkError" ? "the sign-in service could not be reached." : err.message}`;
      }
    } finally {
      button.disabled = false;
    }
    if (session === ending) endSession(message);
    announce("Signed out.");
  });
}
