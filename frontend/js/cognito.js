// The Cognito user pool's public JSON API (no AWS signature), and what its refusals mean to
// the person at the form.

import { config } from "./config.js";

export class CognitoError extends Error {
  constructor(type, message) { super(message || type); this.type = type; }
}

export async function cognito(action, body) {
  let response;
  try {
    response = await fetch(config.auth.endpoint.replace(/\/+$/, "") + "/", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify({ ClientId: config.auth.clientId, ...body }),
    });
  } catch {
    throw new CognitoError("NetworkError",
      "The sign-in service could not be reached. Check your connection and try again.");
  }
  let data = {};
  try { data = JSON.parse(await response.text() || "{}"); } catch { /* not JSON */ }
  if (!response.ok) {
    // `__type` is the bare name, or prefixed with a namespace and '#'.
    const type = String(data.__type || response.headers.get("x-amzn-errortype") || "").split("#").pop().split(":")[0];
    throw new CognitoError(type || `HTTP${response.status}`, data.message || data.Message);
  }
  return data;
}

export function authMessage(err, action) {
  // What each refusal means to the person at the form.
  const message = err.message || "";
  switch (err.type) {
    case "NotAuthorizedException":
      if (/disabled/i.test(message)) return "This account is disabled.";
      if (action === "confirm") return "This account is already confirmed: sign in with its password.";
      return "Wrong email or password.";
    case "UserNotFoundException":
      return action === "sign-in" ? "Wrong email or password." : "There is no account with this email.";
    case "UsernameExistsException":
      return "An account with this email already exists. Sign in instead.";
    case "InvalidPasswordException":
      return `That password is too weak: ${message.replace(/^Password did not conform with policy:\s*/i, "")}`
        .replace(/([^.])$/, "$1.");
    case "InvalidParameterException":
      if (/password/i.test(message)) return "That password is too weak: it is too short.";
      if (/email|username/i.test(message)) return "Enter a valid email address.";
      return message;
    case "UserNotConfirmedException":
      return "This account is not confirmed yet: enter the code we emailed you.";
    case "CodeMismatchException":
      return "That code is not right. Check the email we sent and try again.";
    case "ExpiredCodeException":
      return "That code has expired. Send a new code and try again.";
    case "CodeDeliveryFailureException":
      return "The confirmation email could not be sent. Try again in a moment.";
    case "LimitExceededException":
    case "TooManyRequestsException":
    case "TooManyFailedAttemptsException":
      return "Too many attempts. Wait a few minutes and try again.";
    case "PasswordResetRequiredException":
      return "This account's password must be reset before it can sign in.";
    case "UserLambdaValidationException":
      return message.replace(/^PreSignUp failed with error\s*/i, "") || "This sign-up was refused.";
    case "NetworkError":
      return message;
    default:
      return message ? `Sign-in failed: ${message}` : "Sign-in failed. Try again.";
  }
}
