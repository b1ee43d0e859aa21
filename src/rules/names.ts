/**
 * Kubernetes name rules, checked while parsing annotations so that a value the API server would
 * reject (a mirror name, a data key, a label key) is reported on the source at once instead of
 * failing every write later. Each check returns the reason in words, or undefined when valid.
 *
 * Lengths are checked before any pattern so the patterns only ever see short strings.
 */
import type { Kind } from './model.ts';

/** Longest DNS-1123 subdomain: Secret and ConfigMap names. */
export const MAX_SUBDOMAIN_LENGTH = 253;
/** Longest DNS-1123 label: namespace names. */
export const MAX_LABEL_LENGTH = 63;
/** Longest name part of a label key, and longest label value. */
export const MAX_QUALIFIED_NAME_LENGTH = 63;
/** Longest Secret/ConfigMap data key. */
export const MAX_DATA_KEY_LENGTH = 253;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

/** Why a string cannot be a namespace name (DNS-1123 label), or undefined. */
export function namespaceNameProblem(value: string): string | undefined {
  if (value.length === 0) return 'a namespace name must not be empty';
  if (value.length > MAX_LABEL_LENGTH) return `a namespace name has at most ${MAX_LABEL_LENGTH} characters`;
  if (!DNS_LABEL.test(value)) {
    return 'a namespace name has only lowercase letters, digits and "-", and starts and ends with a letter or digit';
  }
  return undefined;
}

/** Why a string cannot be a Secret or ConfigMap name (DNS-1123 subdomain), or undefined. */
export function objectNameProblem(value: string): string | undefined {
  if (value.length === 0) return 'a name must not be empty';
  if (value.length > MAX_SUBDOMAIN_LENGTH) return `a name has at most ${MAX_SUBDOMAIN_LENGTH} characters`;
  if (!DNS_SUBDOMAIN.test(value)) {
    return 'a name has only lowercase letters, digits, "-" and ".", and each dot-separated part starts and ends with a letter or digit';
  }
  return undefined;
}

/**
 * Why a string cannot name an object of this kind, or undefined. Roles and RoleBindings take any
 * path segment (the API server's own bootstrap names hold colons: `system:controller:…`); every
 * other kind nsync mirrors takes a DNS subdomain.
 */
export function kindNameProblem(kind: Kind, value: string): string | undefined {
  if (kind !== 'Role' && kind !== 'RoleBinding') return objectNameProblem(value);
  if (value.length === 0) return 'a name must not be empty';
  if (value === '.' || value === '..') return 'a name must not be "." or ".."';
  if (/[/%]/.test(value)) return 'a name must not contain "/" or "%"';
  if (value.length > MAX_SUBDOMAIN_LENGTH) return `a name has at most ${MAX_SUBDOMAIN_LENGTH} characters`;
  return undefined;
}

/** Why a string cannot be a label key (optional DNS-subdomain prefix, "/", name), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'a label key has at most one "/"';
  const name = parts.length === 2 ? (parts[1] ?? '') : key;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix.length === 0) return 'a label key prefix before "/" must not be empty';
    if (prefix.length > MAX_SUBDOMAIN_LENGTH || !DNS_SUBDOMAIN.test(prefix)) {
      return `a label key prefix must be a DNS subdomain (lowercase, at most ${MAX_SUBDOMAIN_LENGTH} characters)`;
    }
  }
  if (name.length === 0) return 'a label key name must not be empty';
  if (name.length > MAX_QUALIFIED_NAME_LENGTH) {
    return `a label key name has at most ${MAX_QUALIFIED_NAME_LENGTH} characters`;
  }
  if (!QUALIFIED_NAME.test(name)) {
    return 'a label key name has only letters, digits, "-", "_" and ".", and starts and ends with a letter or digit';
  }
  return undefined;
}

/** Why a string cannot be a label value, or undefined. Empty is a valid value. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > MAX_QUALIFIED_NAME_LENGTH) {
    return `a label value has at most ${MAX_QUALIFIED_NAME_LENGTH} characters`;
  }
  if (!QUALIFIED_NAME.test(value)) {
    return 'a label value has only letters, digits, "-", "_" and ".", and starts and ends with a letter or digit';
  }
  return undefined;
}

/** Why a string cannot be a Secret/ConfigMap data key, or undefined. */
export function dataKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'a data key must not be empty';
  if (key.length > MAX_DATA_KEY_LENGTH) return `a data key has at most ${MAX_DATA_KEY_LENGTH} characters`;
  if (!DATA_KEY.test(key)) return 'a data key has only letters, digits, "-", "_" and "."';
  if (key === '.' || key.startsWith('..')) return 'a data key must not be "." or start with ".."';
  return undefined;
}
