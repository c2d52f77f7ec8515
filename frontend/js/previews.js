// Small previews of an image: the thumbnail (fits in 512 x 512, see the contract) with the
// display file as the larger candidate for high-DPI screens, lazy, and sized so layout does not jump.

const THUMBNAIL_FIT = 512;

/** The thumbnail's width: the image scaled down (never up) to fit in 512 x 512. */
export function thumbnailWidth(image) {
  const scale = Math.min(1, THUMBNAIL_FIT / Math.max(image.width, image.height, 1));
  return Math.max(1, Math.round(image.width * scale));
}

/**
 * @param {HTMLImageElement} img
 * @param {{url: string, thumbnailUrl?: string, width: number, height: number}} image
 * @param {number} box  the CSS box's longer side in px (the width/height attributes fit in it)
 * @param {string} sizes  the `sizes` attribute: the box's width as the CSS sets it
 */
export function setPreview(img, image, box, sizes) {
  const scale = box / Math.max(image.width, image.height, 1);
  img.width = Math.max(1, Math.round(image.width * scale));
  img.height = Math.max(1, Math.round(image.height * scale));
  img.loading = "lazy";
  img.decoding = "async";
  const thumbnail = image.thumbnailUrl;
  if (thumbnail && thumbnail !== image.url && thumbnailWidth(image) < image.width) {
    img.sizes = sizes;
    img.srcset = `${thumbnail} ${thumbnailWidth(image)}w, ${image.url} ${image.width}w`;
    img.src = thumbnail;
  } else if (thumbnail) {
    img.src = thumbnail; // the image fits in 512 x 512: its thumbnail is as sharp as it gets
  } else {
    img.src = image.url; // an image stored before thumbnails existed has none
  }
}
