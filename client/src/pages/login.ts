/** Sign in: email and password; back to where the user was going (`?next=`). */
import { ApiError, post, type User } from "../api";
import { h } from "../dom";
import { navigate } from "../router";
import { me, setUser } from "../session";

/** Only same-site paths, never `//elsewhere`. */
export function safeNext(): string {
  const next = new URLSearchParams(location.search).get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export async function loginPage(main: HTMLElement): Promise<void> {
  if (await me()) return navigate(safeNext(), { replace: true });
  document.title = "Sign in · Faultline";
  const error = h("p", { class: "error", role: "alert" });
  const email = h("input", { type: "email", name: "email", id: "email", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { type: "password", name: "password", id: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    {
      class: "card narrow",
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = "";
        submit.disabled = true;
        try {
          const r = await post<{ user: User }>("/api/auth/login", { email: email.value, password: password.value });
          setUser(r.user);
          navigate(safeNext(), { replace: true });
        } catch (err) {
          error.textContent = err instanceof ApiError ? err.message : "could not reach the server";
          submit.disabled = false;
          password.select();
        }
      },
    },
    h("h1", null, "Sign in"),
    h("label", { for: "email" }, "Email"),
    email,
    h("label", { for: "password" }, "Password"),
    password,
    error,
    submit,
    h("p", { class: "muted" }, "No account? Ask an admin for an invite link."),
  );
  main.append(form);
  email.focus();
}
