import { createApp } from "vue";
import Vant from "vant";
import "vant/lib/index.css";
import "@/common/base.css";
import "./style.css";
import App from "./App.vue";
import { router } from "./router";
import { applyLarge, prefs, setLang } from "@/common/i18n";

setLang(prefs.lang);
applyLarge();
createApp(App).use(Vant).use(router).mount("#app");
