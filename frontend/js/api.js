// The operations the page runs, on top of the GraphQL client.

import { request, upload } from "./graphql.js";

const IMAGE_FIELDS = "id filename contentType size width height url thumbnailUrl createdAt";

export async function fetchLimits() {
  const data = await request("query UploadLimits { uploadLimits { maxUploadBytes maxPixels maxFiles acceptedTypes } }");
  return data.uploadLimits;
}

/** One image by id, or null when there is none. */
export async function fetchImage(id) {
  const data = await request(`query Image($id: ID!) { image(id: $id) { ${IMAGE_FIELDS} } }`, { id });
  return data.image;
}

/** One page of images, newest first. */
export async function fetchImages(first, after = null) {
  const data = await request(
    `query Images($first: Int!, $after: String) {
      images(first: $first, after: $after) {
        edges { cursor node { ${IMAGE_FIELDS} } }
        pageInfo { hasNextPage endCursor }
        totalCount
      }
    }`,
    { first, after },
  );
  return data.images;
}

/** Upload one file; resolves to an Image or an UploadError (see `__typename`). */
export async function uploadImage(file, { onProgress, signal } = {}) {
  const data = await upload(
    `mutation UploadImage($file: Upload!) {
      uploadImage(file: $file) {
        __typename
        ... on Image { ${IMAGE_FIELDS} }
        ... on UploadError { code message rejectedFilename: filename }
      }
    }`,
    { file: null },
    { "variables.file": file },
    { onProgress, signal },
  );
  return data.uploadImage;
}

/**
 * Delete one image; resolves to DeletedImage or ImageNotFound (see `__typename`).
 * `keepalive` lets the request outlive the page (sent from `pagehide`).
 */
export async function deleteImage(id, { keepalive = false } = {}) {
  const data = await request(
    `mutation DeleteImage($id: ID!) {
      deleteImage(id: $id) {
        __typename
        ... on DeletedImage { id }
        ... on ImageNotFound { id message }
      }
    }`,
    { id },
    { keepalive },
  );
  return data.deleteImage;
}
