// Client certificates issued to devices (mutual TLS on the embedded broker).

export interface DeviceCertificatesTable {
  /** lower-case hex, no leading zeros */
  serial: string;
  device_id: string;
  issued_at: string;
  not_after: string;
  /** when it was revoked (alone, with its device, or by a rotation of the device's secret); null while valid */
  revoked_at: string | null;
}
