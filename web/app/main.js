// The console's page: the login form, then the layout of the 2007 console
// (the tree on the left, the selected node's page on the right). Pages are
// addressed by the URL's fragment (#/transport-settings) so "/" is the only
// document the server serves.
import * as api from "./api.js";
import { h, clear } from "./dom.js";
import { state } from "./state.js";
import { PAGES, TREE } from "./pages/index.js";

const app = document.getElementById("app");

function loginForm(message) {
  clear(app);
  const name = h("input", { id: "login-name", name: "username", type: "text", autocomplete: "username", required: true });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("div", { class: "error", role: "alert" }, message ?? "");
  const button = h("button", { type: "submit" }, "Log On");
  const form = h(
    "form",
    { class: "login", onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      button.disabled = true;
      try {
        await api.login(name.value, password.value);
        password.value = "";
        await start();
      } catch (err) {
        error.textContent = `${err.code}: ${err.message}`;
        button.disabled = false;
        password.focus();
      }
    } },
    h("h1", {}, "Sealpost Management Console"),
    h("p", {}, "Edge Transport (Domain Security). Type your user name and password to log on."),
    h("div", { class: "field" }, h("label", { for: "login-name" }, "User name:"), name),
    h("div", { class: "field" }, h("label", { for: "login-password" }, "Password:"), password),
    error,
    h("div", { class: "dialog-buttons" }, button),
  );
  app.append(h("main", { class: "login-page" }, form));
  name.focus();
}

function treeNav(current) {
  const item = (node) => {
    if (node.page) {
      const a = h("a", { href: `#/${node.page}`, "aria-current": node.page === current ? "page" : undefined, onclick: (e) => {
        // The current page's link draws the page again (a fresh read from the server).
        if (location.hash === `#/${node.page}`) {
          e.preventDefault();
          render();
        }
      } }, node.label);
      return h("li", {}, a);
    }
    return h("li", {}, h("span", { class: "branch" }, node.label), h("ul", {}, ...node.children.map(item)));
  };
  return h("nav", { class: "tree", "aria-label": "Console tree" }, h("ul", {}, ...TREE.map(item)));
}

let rendering = 0;
const contexts = {};
async function render() {
  const id = (location.hash.replace(/^#\/?/, "") || "transport-settings").split("?")[0];
  const page = PAGES[id] ?? PAGES["transport-settings"];
  const pageId = PAGES[id] ? id : "transport-settings";
  const n = ++rendering;
  clear(app);
  const main = h("main", { class: "page", id: "page", tabindex: "-1", "data-page": pageId });
  const header = h(
    "header",
    { class: "top" },
    h("p", { class: "product" }, "Sealpost Management Console"),
    h("p", { class: "who" }, `Logged on as ${state.session.Name} (${state.session.RoleGroups.join(", ")})`, " ", h("button", { type: "button", class: "secondary", id: "logoff", onclick: async () => {
      try {
        await api.logout();
      } finally {
        loginForm("You have logged off.");
      }
    } }, "Log Off")),
  );
  app.append(header, h("div", { class: "layout" }, treeNav(pageId), main));
  document.title = `${page.title} - Sealpost Management Console`;
  main.append(h("h1", {}, page.title), h("p", { class: "loading", role: "status" }, "Loading…"));
  try {
    const ctx = (contexts[pageId] ??= { rerender: render });
    const body = await page.render(ctx);
    if (n !== rendering) return;
    clear(main);
    main.append(h("h1", {}, page.title), body);
  } catch (e) {
    if (n !== rendering) return;
    clear(main);
    main.append(h("h1", {}, page.title), h("div", { class: "error", role: "alert" }, `${e.code ?? "ERROR"}: ${e.message}`));
  }
  main.setAttribute("data-ready", "true");
}

async function start() {
  const s = await api.currentSession();
  if (!s) return loginForm();
  state.session = s;
  const info = await api.cmdletInfo();
  state.cmdlets = new Map(info.map((c) => [c.Name, c]));
  window.onhashchange = () => render();
  if (!location.hash) history.replaceState(null, "", "#/transport-settings");
  await render();
}

api.setSessionEndedHandler((e) => {
  window.onhashchange = null;
  document.querySelectorAll("dialog").forEach((d) => d.remove());
  loginForm(`Your session has ended (${e.message}) Log on again.`);
});

start().catch((e) => loginForm(`${e.code ?? "ERROR"}: ${e.message}`));
