import { createRouter, createWebHistory } from "vue-router";
import { session } from "@/api/session";

export const router = createRouter({
  history: createWebHistory("/"),
  routes: [
    { path: "/login", component: () => import("./views/Login.vue") },
    { path: "/", component: () => import("./views/Home.vue") },
    { path: "/wish", component: () => import("./views/Wish.vue") },
    { path: "/needs/:id", component: () => import("./views/Need.vue"), props: true },
    { path: "/passbook", component: () => import("./views/Passbook.vue") },
    { path: "/inbox", component: () => import("./views/Inbox.vue") },
    { path: "/me", component: () => import("./views/Me.vue") },
    { path: "/:rest(.*)*", redirect: "/" },
  ],
});

router.beforeEach((to) => {
  if (to.path !== "/login" && !session.current) return "/login";
  return true;
});
