/** A device id (`device:<id>`) or source address (`ip:<address>`) locked out of device authentication. */
export interface AuthLockoutsTable {
  key: string;
  /** ISO time the lockout ends */
  locked_until: string;
  /** lockouts in a row; the next one lasts twice as long */
  lockouts: number;
  /** ISO time this lockout began */
  updated_at: string;
}
