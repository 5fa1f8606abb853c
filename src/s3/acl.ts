// ACLs on the wire: the x-amz-acl and x-amz-grant-* headers, the AccessControlPolicy document in and out,
// and the checks a write carrying an ACL passes (Object Ownership, BlockPublicAcls) with AWS's errors.
import type { IncomingHttpHeaders } from 'node:http';
import { isPublicAcl } from '../iam/acl-check.js';
import {
  accountCanonicalId, accountDisplayName, cannedAcl, grantsOnlyOwner, isCannedAcl, knownGroupUris, ownershipOf, type CannedAcl,
} from '../iam/acl.js';
import { effectivePublicAccessBlock } from '../iam/public-access.js';
import type { Acl, AclPermission, Grant, Grantee, PublicAccessBlock } from '../iam/types.js';
import type { BucketRecord } from '../objects/records.js';
import { S3Error } from './errors.js';
import { el, elWithAttributes, parseXml, xmlList, xmlText, type XmlNode } from './xml.js';

/** AWS's limit on the grants of one ACL. */
const aclGrantsMax = 100;

const permissions: readonly AclPermission[] = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'];

/** x-amz-grant-* header to the permission it grants. */
const grantHeaders: ReadonlyArray<readonly [string, AclPermission]> = [
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
];

/** An ACL a request sets, and the canned name it was given as, if any (Object Ownership tells them apart). */
export interface RequestedAcl {
  acl: Acl;
  canned?: CannedAcl;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Whether the request carries any ACL header. */
export function hasAclHeaders(headers: IncomingHttpHeaders): boolean {
  return headers['x-amz-acl'] !== undefined || grantHeaders.some(([name]) => headers[name] !== undefined);
}

/** A grantee named in a request, checked: only this account's canonical id and the predefined groups exist here. */
function checkedGrantee(grantee: Grantee): Grantee {
  switch (grantee.type) {
    case 'CanonicalUser':
      if (grantee.id !== accountCanonicalId) throw new S3Error('InvalidArgument', 'Invalid id', { extra: { ArgumentName: 'CanonicalUser/ID', ArgumentValue: grantee.id.slice(0, 256) } });
      return grantee;
    case 'Group':
      if (!knownGroupUris.has(grantee.uri)) throw new S3Error('InvalidArgument', 'Invalid group uri', { extra: { ArgumentName: 'Group/URI', ArgumentValue: grantee.uri.slice(0, 256) } });
      return grantee;
    case 'AmazonCustomerByEmail':
      // The store's one account has no e-mail address, so none resolves (AWS no longer serves them either).
      throw new S3Error('UnresolvableGrantByEmailAddress', undefined, { extra: { EmailAddress: grantee.email.slice(0, 256) } });
  }
}

/** One x-amz-grant-* value: comma-separated `id="..."`, `uri="..."` or `emailAddress="..."` (quotes optional). */
function parseGrantHeader(name: string, value: string, permission: AclPermission): Grant[] {
  const invalid = (): S3Error => new S3Error('InvalidArgument', `Invalid grant in "${name}"`, { extra: { ArgumentName: name, ArgumentValue: value.slice(0, 256) } });
  const grants: Grant[] = [];
  for (const item of value.split(',')) {
    const m = /^\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^\s"]*))\s*$/.exec(item);
    if (!m) throw invalid();
    const kind = m[1]!.toLowerCase();
    const text = m[2] ?? m[3] ?? '';
    let grantee: Grantee;
    if (kind === 'id') grantee = { type: 'CanonicalUser', id: text };
    else if (kind === 'uri') grantee = { type: 'Group', uri: text };
    else if (kind === 'emailaddress') grantee = { type: 'AmazonCustomerByEmail', email: text };
    else throw invalid();
    grants.push({ grantee: checkedGrantee(grantee), permission });
  }
  return grants;
}

/**
 * The ACL a request's headers set, owned by `ownerId` (`bucketOwnerId` for the bucket-owner-* canned ACLs);
 * undefined when it carries none. A canned ACL and grant headers together are refused, as AWS does.
 */
export function aclFromHeaders(headers: IncomingHttpHeaders, ownerId: string, bucketOwnerId: string = ownerId): RequestedAcl | undefined {
  const canned = headerValue(headers, 'x-amz-acl');
  const granted = grantHeaders.filter(([name]) => headers[name] !== undefined);
  if (canned !== undefined) {
    if (granted.length > 0) throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
    if (!isCannedAcl(canned)) throw new S3Error('InvalidArgument', undefined, { extra: { ArgumentName: 'x-amz-acl', ArgumentValue: canned.slice(0, 256) } });
    return { acl: cannedAcl(canned, ownerId, bucketOwnerId), canned };
  }
  if (granted.length === 0) return undefined;
  const grants = granted.flatMap(([name, permission]) => parseGrantHeader(name, headerValue(headers, name)!, permission));
  if (grants.length > aclGrantsMax) throw new S3Error('MalformedACLError', `An ACL can have at most ${aclGrantsMax} grants`);
  return { acl: { owner: ownerId, grants } };
}

function granteeOf(node: Record<string, unknown>): Grantee {
  const id = xmlText(node, 'ID');
  const uri = xmlText(node, 'URI');
  const email = xmlText(node, 'EmailAddress');
  // The xsi:type attribute is not kept by the parser; the one child that names the grantee says the same.
  const named = [id, uri, email].filter((v) => v !== undefined);
  if (named.length !== 1) throw new S3Error('MalformedACLError');
  if (id !== undefined) return { type: 'CanonicalUser', id };
  if (uri !== undefined) return { type: 'Group', uri };
  return { type: 'AmazonCustomerByEmail', email: email! };
}

/**
 * An AccessControlPolicy document (PutBucketAcl, PutObjectAcl). Its Owner must be the resource's owner:
 * an ACL cannot hand a resource to someone else.
 */
export function aclFromXml(body: Buffer, ownerId: string): RequestedAcl {
  const doc = parseXml(body, 'AccessControlPolicy');
  const ownerNode = doc['Owner'];
  if (ownerNode === null || typeof ownerNode !== 'object') throw new S3Error('MalformedACLError');
  const owner = xmlText(ownerNode as Record<string, unknown>, 'ID');
  if (owner === undefined) throw new S3Error('MalformedACLError');
  if (owner !== ownerId) throw new S3Error('AccessDenied');
  const listNode = doc['AccessControlList'];
  const list = listNode === undefined || listNode === '' ? {} : listNode;
  if (list === null || typeof list !== 'object') throw new S3Error('MalformedACLError');
  const grantNodes = xmlList(list as Record<string, unknown>, 'Grant');
  if (grantNodes.length > aclGrantsMax) throw new S3Error('MalformedACLError', `An ACL can have at most ${aclGrantsMax} grants`);
  const grants = grantNodes.map((g): Grant => {
    const granteeNode = g['Grantee'];
    if (granteeNode === null || typeof granteeNode !== 'object') throw new S3Error('MalformedACLError');
    const permission = xmlText(g, 'Permission');
    if (!permissions.includes(permission as AclPermission)) throw new S3Error('MalformedACLError');
    return { grantee: checkedGrantee(granteeOf(granteeNode as Record<string, unknown>)), permission: permission as AclPermission };
  });
  return { acl: { owner: ownerId, grants } };
}

/** The Owner element's children: the canonical id, and the display name where it is this account's. */
export function ownerXml(id: string): XmlNode {
  return [el('ID', id), id === accountCanonicalId ? el('DisplayName', accountDisplayName) : undefined];
}

/**
 * The Owner (or Initiator) element of anything in the store: every bucket, object and upload belongs to its
 * one account, whichever of its keys wrote it (records keep the writer's access key id). One shared node.
 */
export const accountOwnerXml: XmlNode = ownerXml(accountCanonicalId);

function granteeXml(grantee: Grantee): XmlNode {
  const xsi = { 'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', 'xsi:type': grantee.type };
  switch (grantee.type) {
    case 'CanonicalUser':
      return elWithAttributes('Grantee', xsi, ownerXml(grantee.id));
    case 'Group':
      return elWithAttributes('Grantee', xsi, el('URI', grantee.uri));
    case 'AmazonCustomerByEmail':
      return elWithAttributes('Grantee', xsi, el('EmailAddress', grantee.email));
  }
}

/** The children of an AccessControlPolicy answer (GetBucketAcl, GetObjectAcl). */
export function aclXml(acl: Acl): XmlNode {
  return [
    el('Owner', ownerXml(acl.owner)),
    el('AccessControlList', acl.grants.map((g) => el('Grant', [granteeXml(g.grantee), el('Permission', g.permission)]))),
  ];
}

/**
 * Refuses an ACL a write may not set on `bucket` or its objects: under BucketOwnerEnforced ACLs are off and
 * only bucket-owner-full-control (or the same grants spelled out) is accepted, else 400
 * AccessControlListNotSupported (CreateBucket answers InvalidBucketAclWithObjectOwnership); under
 * BlockPublicAcls a public ACL is 403 AccessDenied.
 *
 * Unlike AWS's documented rule (bucket-owner-full-control, canned or as XML, is the one ACL such a write
 * may carry), "private" is accepted under BucketOwnerEnforced too: in a one-account store it grants exactly
 * what bucket-owner-full-control does, and Debian's rclone sends it on every upload with default settings
 * (its sync fails on AccessControlListNotSupported when it is refused, as tried against this code).
 */
export function checkAclAllowed(
  bucket: Pick<BucketRecord, 'ownership' | 'ownershipRemoved' | 'publicAccessBlock'>,
  requested: RequestedAcl,
  options: { storePublicAccessBlock: PublicAccessBlock | undefined; creatingBucket?: boolean },
): void {
  if (ownershipOf(bucket) === 'BucketOwnerEnforced') {
    // Spelled out, it must be the owner's FULL_CONTROL: an ACL of no grants is not that ACL.
    const ownerOnly = requested.canned === undefined
      ? requested.acl.grants.length > 0 && grantsOnlyOwner(requested.acl, accountCanonicalId)
      : requested.canned === 'bucket-owner-full-control' || requested.canned === 'private';
    if (!ownerOnly) throw new S3Error(options.creatingBucket ? 'InvalidBucketAclWithObjectOwnership' : 'AccessControlListNotSupported');
  }
  if (isPublicAcl(requested.acl) && effectivePublicAccessBlock(bucket.publicAccessBlock, options.storePublicAccessBlock).BlockPublicAcls) {
    throw new S3Error('AccessDenied', 'Access Denied: Block Public Access (BlockPublicAcls) refuses public ACLs here');
  }
}
