// A photo as the phone sends it: scaled on the device to at most MAX_SIDE px a side and
// re-encoded as JPEG (small enough for the services' body limit; the needs service re-encodes
// it again and keeps no metadata either way).
export const MAX_SIDE = 1600;

/** The size that fits within `max` px a side, keeping the aspect ratio (never enlarged). */
export function fitWithin(width: number, height: number, max = MAX_SIDE): { width: number; height: number } {
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}

/** The picture, scaled and re-encoded; the file itself if the browser cannot decode it
 * (the service then says why it is refused). */
export async function shrinkImage(file: Blob): Promise<Blob> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return file;
  }
  const { width, height } = fitWithin(bitmap.width, bitmap.height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d")?.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const blob = await new Promise<Blob | null>((done) => canvas.toBlob(done, "image/jpeg", 0.85));
  return blob ?? file;
}
