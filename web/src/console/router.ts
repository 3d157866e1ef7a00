import { createRouter, createWebHistory } from "vue-router";
import { ADMIN_ROLES, claims } from "@/api/session";

export const router = createRouter({
  history: createWebHistory("/console/"),
  routes: [
    { path: "/login", component: () => import("./views/Login.vue") },
    { path: "/", redirect: "/review" },
    { path: "/review", component: () => import("./views/Review.vue") },
    { path: "/library", component: () => import("./views/Library.vue") },
    { path: "/volunteers", component: () => import("./views/Volunteers.vue") },
    { path: "/teams", component: () => import("./views/Teams.vue") },
    { path: "/organizations", component: () => import("./views/Organizations.vue") },
    { path: "/appointments", component: () => import("./views/Appointments.vue") },
    { path: "/subscriptions", component: () => import("./views/Subscriptions.vue") },
    { path: "/:rest(.*)*", redirect: "/review" },
  ],
});

router.beforeEach((to) => {
  const me = claims();
  if (to.path !== "/login" && !(me && ADMIN_ROLES.includes(me.role))) return "/login";
  return true;
});
