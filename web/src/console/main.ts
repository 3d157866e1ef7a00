import { createApp } from "vue";
import ElementPlus from "element-plus";
import "element-plus/dist/index.css";
import "@/common/base.css";
import "./style.css";
import App from "./App.vue";
import { router } from "./router";
import { prefs, setLang } from "@/common/i18n";

setLang(prefs.lang);
createApp(App).use(ElementPlus).use(router).mount("#app");
