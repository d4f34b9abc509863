import type { SiteField, SiteFieldModel } from "@kensa/contracts";
import type { Kysely } from "kysely";
import type { HubDatabase } from "../db/schema.js";
import { FIELD_WINDOW_DAYS } from "../field-window.js";

const STATUS_KEY: Record<string, keyof Pick<SiteFieldModel, "open" | "confirmed" | "falseAlarms" | "relabeled">> = {
  open: "open",
  acknowledged: "open",
  confirmed: "confirmed",
  false_alarm: "falseAlarms",
  relabeled: "relabeled",
};

/**
 * A site's field figures for central, over the window the hub's own field gauges use
 * (`kensa_field_incidents`, `kensa_field_precision`): per project and model version, the
 * incidents it raised and how people decided them, field precision (confirmed / reviewed),
 * and its shadow agreement where it ran as a challenger. Only the site's own incidents count
 * (a hub that is central for others keeps theirs out). Model ids are central's when the model
 * came from central, as in the fleet summary.
 */
export async function siteFieldSummary(db: Kysely<HubDatabase>, now = Date.now()): Promise<SiteField> {
  const since = new Date(now - FIELD_WINDOW_DAYS * 86_400_000).toISOString();
  const [incidents, shadow, mapped] = await Promise.all([
    db
      .selectFrom("incidents as i")
      .innerJoin("projects as p", "p.id", "i.project_id")
      .select((eb) => ["p.slug", "i.model_version_id", "i.status", eb.fn.countAll<number | string>().as("n")])
      .where("i.site_id", "is", null)
      .where("i.created_at", ">=", since)
      .groupBy(["p.slug", "i.model_version_id", "i.status"])
      .execute(),
    db
      .selectFrom("shadow_agreement as a")
      .innerJoin("model_versions as m", "m.id", "a.challenger_model_version_id")
      .innerJoin("projects as p", "p.id", "m.project_id")
      .select((eb) => [
        "p.slug",
        "a.challenger_model_version_id as model_version_id",
        eb.fn.sum<number | string>("a.frames").as("frames"),
        eb.fn.sum<number | string>("a.agree").as("agree"),
      ])
      .where("a.updated_at", ">=", since)
      .groupBy(["p.slug", "a.challenger_model_version_id"])
      .execute(),
    db.selectFrom("federation_models").select(["model_version_id", "central_model_id"]).execute(),
  ]);
  const central = new Map(mapped.map((r) => [r.model_version_id, r.central_model_id]));
  const projects = new Map<string, Map<string, SiteFieldModel>>();
  const model = (slug: string, localId: string): SiteFieldModel => {
    const models = projects.get(slug) ?? new Map<string, SiteFieldModel>();
    projects.set(slug, models);
    const id = central.get(localId) ?? localId;
    let m = models.get(id);
    if (!m) {
      m = {
        modelVersionId: id,
        incidents: 0,
        open: 0,
        confirmed: 0,
        falseAlarms: 0,
        relabeled: 0,
        precision: null,
        shadow: null,
      };
      models.set(id, m);
    }
    return m;
  };
  for (const r of incidents) {
    const m = model(r.slug, r.model_version_id);
    const n = Number(r.n);
    m.incidents += n;
    const key = STATUS_KEY[r.status];
    if (key) m[key] += n;
  }
  for (const r of shadow) {
    const m = model(r.slug, r.model_version_id);
    const prev = m.shadow ?? { frames: 0, agree: 0 };
    m.shadow = { frames: prev.frames + Number(r.frames ?? 0), agree: prev.agree + Number(r.agree ?? 0) };
  }
  for (const models of projects.values()) {
    for (const m of models.values()) {
      const reviewed = m.confirmed + m.falseAlarms + m.relabeled;
      m.precision = reviewed > 0 ? m.confirmed / reviewed : null;
    }
  }
  return {
    at: new Date(now).toISOString(),
    windowDays: FIELD_WINDOW_DAYS,
    projects: [...projects].map(([slug, models]) => ({ slug, models: [...models.values()] })),
  };
}
