// The operations the page runs, on top of the GraphQL client.

import { request, upload } from "./graphql.js";

const IMAGE_FIELDS = "id filename contentType size width height url thumbnailUrl createdAt owner { id username }";
const USER_FIELDS = "id username isAdmin createdAt imageCount storedBytes quotaBytes";
const TOKEN_FIELDS = "id label createdAt lastUsedAt";

export async function fetchLimits() {
  const data = await request("query UploadLimits { uploadLimits { maxUploadBytes maxPixels maxFiles acceptedTypes publicUploads } }");
  return data.uploadLimits;
}

// ---- accounts ----------------------------------------------------------------

/** Who is signed in (null: nobody) and whether signed-out visitors may upload. */
export async function fetchViewer() {
  const data = await request(`query Viewer { viewer { ${USER_FIELDS} } uploadLimits { publicUploads } }`);
  return { viewer: data.viewer, publicUploads: Boolean(data.uploadLimits.publicUploads) };
}

/** Resolves to SignedIn {user} or SignInFailed {code message retryAfterSeconds} (see `__typename`). */
export async function signIn(username, password) {
  const data = await request(
    `mutation SignIn($username: String!, $password: String!) {
      signIn(username: $username, password: $password) {
        __typename
        ... on SignedIn { user { ${USER_FIELDS} } }
        ... on SignInFailed { code message retryAfterSeconds }
      }
    }`,
    { username, password },
  );
  return data.signIn;
}

export async function signOut() {
  const data = await request("mutation SignOut { signOut }");
  return data.signOut;
}

const ACCOUNT_RESULT = `__typename ... on User { ${USER_FIELDS} } ... on AccountError { code message }`;

/** Resolves to User or AccountError (see `__typename`). */
export async function changePassword(currentPassword, newPassword) {
  const data = await request(
    `mutation ChangePassword($currentPassword: String!, $newPassword: String!) {
      changePassword(currentPassword: $currentPassword, newPassword: $newPassword) { ${ACCOUNT_RESULT} }
    }`,
    { currentPassword, newPassword },
  );
  return data.changePassword;
}

export async function fetchApiTokens() {
  const data = await request(`query ApiTokens { apiTokens { ${TOKEN_FIELDS} } }`);
  return data.apiTokens;
}

/** A new token and its secret (the only time the server sends it). */
export async function createApiToken(label) {
  const data = await request(
    `mutation CreateApiToken($label: String!) { createApiToken(label: $label) { token { ${TOKEN_FIELDS} } secret } }`,
    { label },
  );
  return data.createApiToken;
}

export async function revokeApiToken(id) {
  const data = await request("mutation RevokeApiToken($id: ID!) { revokeApiToken(id: $id) }", { id });
  return data.revokeApiToken;
}

// ---- administration (admins only) ---------------------------------------------

export async function fetchUsers() {
  const data = await request(`query Users { users { ${USER_FIELDS} } }`);
  return data.users;
}

/** Resolves to User or AccountError (see `__typename`). */
export async function createUser(username, password, admin) {
  const data = await request(
    `mutation CreateUser($username: String!, $password: String!, $admin: Boolean!) {
      createUser(username: $username, password: $password, admin: $admin) { ${ACCOUNT_RESULT} }
    }`,
    { username, password, admin },
  );
  return data.createUser;
}

export async function deleteUser(id) {
  const data = await request("mutation DeleteUser($id: ID!) { deleteUser(id: $id) }", { id });
  return data.deleteUser;
}

/** `quotaBytes` null: no limit. Resolves to User or AccountError. */
export async function setUserQuota(id, quotaBytes) {
  const data = await request(
    `mutation SetUserQuota($id: ID!, $quotaBytes: Int) { setUserQuota(id: $id, quotaBytes: $quotaBytes) { ${ACCOUNT_RESULT} } }`,
    { id, quotaBytes },
  );
  return data.setUserQuota;
}

/** Resolves to User or AccountError; the account's sessions end. */
export async function resetPassword(id, newPassword) {
  const data = await request(
    `mutation ResetPassword($id: ID!, $newPassword: String!) { resetPassword(id: $id, newPassword: $newPassword) { ${ACCOUNT_RESULT} } }`,
    { id, newPassword },
  );
  return data.resetPassword;
}

// ---- images --------------------------------------------------------------------

/** One image by id, or null when there is none. */
export async function fetchImage(id) {
  const data = await request(`query Image($id: ID!) { image(id: $id) { ${IMAGE_FIELDS} } }`, { id });
  return data.image;
}

/** One page of images, newest first: the viewer's, or everyone's (`all`, admins). */
export async function fetchImages(first, after = null, { all = false } = {}) {
  const data = await request(
    `query Images($first: Int!, $after: String, $all: Boolean!) {
      images(first: $first, after: $after, all: $all) {
        edges { cursor node { ${IMAGE_FIELDS} } }
        pageInfo { hasNextPage endCursor }
        totalCount
      }
    }`,
    { first, after, all },
  );
  return data.images;
}

/** Upload one file; resolves to an Image or an UploadError (see `__typename`). */
export async function uploadImage(file, { onProgress, signal } = {}) {
  const data = await upload(
    `mutation UploadImage($file: Upload!) {
      uploadImage(file: $file) {
        __typename
        ... on Image { ${IMAGE_FIELDS} deleteToken }
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
 * `keepalive` lets the request outlive the page (sent from `pagehide`); `deleteToken` deletes
 * an anonymous upload without an account.
 */
export async function deleteImage(id, { keepalive = false, deleteToken = null } = {}) {
  const data = await request(
    `mutation DeleteImage($id: ID!, $deleteToken: String) {
      deleteImage(id: $id, deleteToken: $deleteToken) {
        __typename
        ... on DeletedImage { id }
        ... on ImageNotFound { id message }
      }
    }`,
    { id, deleteToken },
    { keepalive },
  );
  return data.deleteImage;
}
