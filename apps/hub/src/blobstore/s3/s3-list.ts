import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { unavailable } from "./s3-client.js";

/** Every key under `prefix`, in key order, after `startAfter`; a page at a time. */
export async function* listKeys(
  client: S3Client,
  bucket: string,
  prefix: string,
  startAfter?: string,
): AsyncIterable<{ key: string; size: number; lastModified: Date }> {
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}),
        }),
      );
    } catch (err) {
      throw unavailable(err, "list", prefix);
    }
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}
