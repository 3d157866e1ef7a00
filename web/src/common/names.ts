// Names, not codes: org units and categories shown by their names, fetched once and cached.
import { reactive } from "vue";
import { metrics, volunteers } from "@/api/client";
import { prefs } from "./i18n";

const units = reactive<Record<string, string>>({});
const asked = new Set<string>();

/** The unit's name (fetched on first use); its last path segment until it arrives. */
export function unitName(path: string | null | undefined): string {
  if (!path) return "";
  if (!asked.has(path)) {
    asked.add(path);
    void volunteers
      .GET("/v1/orgs/{path}", { params: { path: { path } } })
      .then(({ data }) => {
        if (data) units[path] = data.name;
      });
  }
  return units[path] ?? "…";
}

export interface Category {
  slug: string;
  zh: string;
  en: string;
}

export const categories = reactive<{ items: Category[] }>({ items: [] });

export async function loadCategories(): Promise<Category[]> {
  if (!categories.items.length) {
    const { data } = await metrics.GET("/v1/categories");
    categories.items = data?.items ?? [];
  }
  return categories.items;
}

export function categoryName(slug: string): string {
  const c = categories.items.find((x) => x.slug === slug);
  return c ? (prefs.lang === "zh" ? c.zh : c.en) : slug;
}
