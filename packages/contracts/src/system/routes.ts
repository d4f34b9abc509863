import { defineRoutes } from "../route.js";

/** The system routes of the hub (filled in as the hub's routes move into the table). */
export const systemRoutes = defineRoutes({});
