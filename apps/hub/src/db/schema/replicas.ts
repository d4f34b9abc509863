// What hub replicas on one database share beyond the domain tables.

/** One failed sign-in; `key` is `[username, address]` as JSON, the name lower-cased. */
export interface LoginFailuresTable {
  key: string;
  failed_at: string;
}

/** Work that one replica does at a time (`name`), held by `holder` until `expires_at`. */
export interface HubLeasesTable {
  name: string;
  holder: string;
  expires_at: string;
}

/** An event published across replicas whose payload did not fit in a NOTIFY. */
export interface BusPayloadsTable {
  id: string;
  payload: string;
  created_at: string;
}
