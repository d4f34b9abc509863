// Request authentication moved to auth/; routes keep importing it from here.
export {
  type AuthMode,
  actorOf,
  callingDevice,
  callingUser,
  can,
  decidedBy,
  type Principal,
  type RouteAccess,
  registerAuth,
} from "../auth/request-auth.js";
