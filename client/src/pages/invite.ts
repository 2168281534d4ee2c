/**
 * Accepting an invite (`/invite#<token>`), including the first admin's one-time setup link the server
 * prints. The token stays in the fragment, which browsers never send to a server.
 */
import { ApiError, post, type User } from "../api";
import { fill, h } from "../dom";
import { navigate } from "../router";
import { setUser } from "../session";

export async function invitePage(main: HTMLElement): Promise<void> {
  document.title = "Create your account · Faultline";
  const token = decodeURIComponent(location.hash.slice(1));
  const card = h("div", { class: "card narrow" });
  main.append(card);
  if (!token) {
    fill(card, h("h1", null, "Invite"), h("p", { class: "error", role: "alert" }, "This address has no invite token. Open the whole link you were given."));
    return;
  }
  let invite: { role: string; email: string | null; expiresAt: string; purpose: "invite" | "setup" };
  try {
    invite = await post("/api/invites/lookup", { token });
  } catch (e) {
    fill(card, h("h1", null, "Invite"), h("p", { class: "error", role: "alert" }, e instanceof ApiError ? e.message : "could not reach the server"));
    return;
  }
  const error = h("p", { class: "error", role: "alert" });
  const email = h("input", { type: "email", id: "email", autocomplete: "username", required: true, value: invite.email ?? "", readonly: invite.email !== null });
  const name = h("input", { type: "text", id: "name", autocomplete: "name", required: true, maxlength: 100 });
  const password = h("input", { type: "password", id: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const submit = h("button", { type: "submit", class: "primary" }, "Create account");
  const title = invite.purpose === "setup" ? "Create the first admin" : `Join Faultline as ${invite.role}`;
  const form = h(
    "form",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = "";
        submit.disabled = true;
        try {
          const r = await post<{ user: User }>("/api/invites/accept", { token, email: email.value, name: name.value, password: password.value });
          history.replaceState(null, "", "/invite");
          setUser(r.user);
          navigate("/", { replace: true });
        } catch (err) {
          error.textContent = err instanceof ApiError ? err.message : "could not reach the server";
          submit.disabled = false;
        }
      },
    },
    h("label", { for: "email" }, "Email"),
    email,
    h("label", { for: "name" }, "Name"),
    name,
    h("label", { for: "password" }, "Password (at least 10 characters)"),
    password,
    error,
    submit,
  );
  fill(card, h("h1", null, title), h("p", { class: "muted" }, `This link is valid until ${new Date(invite.expiresAt).toLocaleString()}.`), form);
  (invite.email ? name : email).focus();
}
