/** The browser app's entry: the header (the pages one may go to, who is signed in), the pages, the router. */
import { h, fill } from "./dom";
import { catalogPage } from "./pages/catalog";
import { invitePage } from "./pages/invite";
import { labPage } from "./pages/lab";
import { loginPage } from "./pages/login";
import { reviewPage, reviewsPage } from "./pages/reviews";
import { fallback, route, startRouter } from "./router";
import { onUser, signOut } from "./session";
import "./style.css";

const top = document.getElementById("top")!;
const brand = () => h("a", { href: "/", "data-link": true, class: "brand" }, h("img", { src: "/favicon.svg", alt: "" }), "Faultline");
onUser((user) => {
  fill(
    top,
    brand(),
    // The brand leads to the labs; reviewers and admins also read and approve the trainees' write-ups.
    user && user.role !== "trainee" ? h("nav", { class: "nav", "aria-label": "Main" }, h("a", { href: "/reviews", "data-link": true }, "Reviews")) : null,
    user
      ? h("div", { class: "who" }, h("span", null, `${user.name} (${user.role})`), h("button", { type: "button", class: "link", onclick: () => void signOut() }, "Sign out"))
      : null,
  );
});
fill(top, brand());

route("/", catalogPage);
route("/login", loginPage);
route("/invite", invitePage);
route("/labs/:id", labPage);
route("/reviews", reviewsPage);
route("/reviews/:id", reviewPage);
fallback((main) => {
  main.append(h("h1", null, "Not found"), h("p", null, h("a", { href: "/", "data-link": true }, "Back to the labs")));
});

window.addEventListener("unhandledrejection", (e) => {
  const main = document.getElementById("main");
  const msg = e.reason instanceof Error ? e.reason.message : String(e.reason);
  main?.prepend(h("p", { class: "error", role: "alert" }, `Something went wrong: ${msg}`));
});

startRouter();
