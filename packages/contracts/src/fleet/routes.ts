import { defineRoutes } from "../route.js";

/** The fleet routes of the hub (filled in as the hub's routes move into the table). */
export const fleetRoutes = defineRoutes({});
