import { defineRoutes } from "../route.js";

/** The datasets routes of the hub (filled in as the hub's routes move into the table). */
export const datasetRoutes = defineRoutes({});
