// Checking a value for a profile attribute, whether it comes from a form (text) or from the
// admin API (JSON): the type's rules first, then the schema's (pattern, lengths, bounds, allowed
// values). Each refusal says what to fix, in words a user can act on.
import { z } from 'zod';
import { calendarDate, type Attribute } from './schema.ts';

export interface AddressValue {
  street_address?: string;
  locality?: string;
  region?: string;
  postal_code?: string;
  country?: string;
}
export type ProfileValue = string | number | boolean | AddressValue;

export const ADDRESS_PARTS = [
  { part: 'street_address', label: 'Street address', autocomplete: 'street-address', maxLength: 500 },
  { part: 'locality', label: 'Town or city', autocomplete: 'address-level2', maxLength: 200 },
  { part: 'region', label: 'Region or state', autocomplete: 'address-level1', maxLength: 200 },
  { part: 'postal_code', label: 'Postal code', autocomplete: 'postal-code', maxLength: 20 },
  { part: 'country', label: 'Country', autocomplete: 'country-name', maxLength: 100 },
] as const;
/** What a complete address has. */
const ADDRESS_REQUIRED = ['street_address', 'locality', 'country'] as const;

export type Checked = { value: ProfileValue } | { empty: true } | { problem: string };

// Line breaks and other control characters have no place in a one-line value.
const CONTROL = /\p{Cc}/u;
const E164 = /^\+[1-9]\d{6,14}$/;
const emailFormat = z.email();

/** Whether a value counts as not given: nothing, blank text, or an address with no part filled in. */
export function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (typeof value === 'object') return Object.values(value as object).every((part) => isEmpty(part));
  return false;
}

function checkText(attribute: Attribute, raw: unknown): Checked {
  if (typeof raw !== 'string') return { problem: 'Enter text' };
  const value = raw.trim();
  if (CONTROL.test(value)) return { problem: 'Remove the line breaks and control characters' };
  const length = [...value].length;
  if (length > attribute.maxLength) return { problem: `Use at most ${attribute.maxLength} characters` };
  if (attribute.minLength !== undefined && length < attribute.minLength)
    return { problem: `Use at least ${attribute.minLength} characters` };
  return { value };
}

function checkPattern(attribute: Attribute, checked: Checked): Checked {
  if (!('value' in checked) || !attribute.pattern || typeof checked.value !== 'string') return checked;
  return attribute.pattern.test(checked.value) ? checked : { problem: 'This is not in the expected format' };
}

function checkPhone(raw: unknown): Checked {
  if (typeof raw !== 'string') return { problem: 'Enter a phone number' };
  // People type spaces, dots, dashes and brackets; the claim is E.164 (OIDC Core §5.1).
  const value = raw.trim().replace(/[\s().-]/g, '');
  return E164.test(value)
    ? { value }
    : { problem: 'Enter the number in international format: + then the country code and number, such as +33612345678' };
}

function checkDate(attribute: Attribute, raw: unknown): Checked {
  if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(raw.trim())) return { problem: 'Enter a date as YYYY-MM-DD' };
  const value = raw.trim();
  if (!calendarDate(value)) return { problem: 'Enter a real date' };
  if (typeof attribute.min === 'string' && value < attribute.min) return { problem: `Enter a date on or after ${attribute.min}` };
  if (typeof attribute.max === 'string' && value > attribute.max) return { problem: `Enter a date on or before ${attribute.max}` };
  return { value };
}

function checkNumber(attribute: Attribute, raw: unknown): Checked {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (!/^-?\d{1,15}(\.\d{1,15})?$/.test(text)) return { problem: 'Enter a number' };
  const value = Number(text);
  if (attribute.integer && !Number.isInteger(value)) return { problem: 'Enter a whole number' };
  if (typeof attribute.min === 'number' && value < attribute.min) return { problem: `Enter a number of at least ${attribute.min}` };
  if (typeof attribute.max === 'number' && value > attribute.max) return { problem: `Enter a number of at most ${attribute.max}` };
  return { value };
}

function checkBoolean(raw: unknown): Checked {
  if (raw === true || raw === 'true') return { value: true };
  if (raw === false || raw === 'false') return { value: false };
  return { problem: 'Choose yes or no' };
}

function checkEnum(attribute: Attribute, raw: unknown): Checked {
  const value = typeof raw === 'string' ? raw.trim() : raw;
  return attribute.values?.some((allowed) => allowed.value === value)
    ? { value: value as string }
    : { problem: 'Choose one of the options' };
}

function checkUrl(attribute: Attribute, raw: unknown): Checked {
  const text = checkText(attribute, raw);
  if (!('value' in text)) return text;
  const url = URL.parse(text.value as string);
  return url && (url.protocol === 'https:' || url.protocol === 'http:') ? text : { problem: 'Enter a web address starting with https://' };
}

function checkAddress(raw: unknown): Checked {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: 'Enter an address' };
  const given = raw as Record<string, unknown>;
  const unknown = Object.keys(given).filter((key) => !ADDRESS_PARTS.some((p) => p.part === key));
  if (unknown.length) return { problem: `An address has no ${unknown.join(', ')}` };
  const value: AddressValue = {};
  for (const { part, label, maxLength } of ADDRESS_PARTS) {
    const text = given[part];
    if (text === undefined || text === null || text === '') continue;
    if (typeof text !== 'string' || CONTROL.test(text)) return { problem: `${label}: enter text on one line` };
    if ([...text.trim()].length > maxLength) return { problem: `${label}: use at most ${maxLength} characters` };
    if (text.trim()) value[part] = text.trim();
  }
  const missing = ADDRESS_REQUIRED.filter((part) => !value[part]);
  if (missing.length)
    return { problem: `Enter the ${missing.map((p) => ADDRESS_PARTS.find((a) => a.part === p)?.label.toLowerCase()).join(', ')}` };
  return { value };
}

/** Checks one value for an attribute: the stored form of it, or what to fix; `empty` when none was given. */
export function checkValue(attribute: Attribute, raw: unknown): Checked {
  if (isEmpty(raw)) return { empty: true };
  switch (attribute.type) {
    case 'string':
      return checkPattern(attribute, checkText(attribute, raw));
    case 'email': {
      const text = checkText(attribute, raw);
      if ('value' in text && !emailFormat.safeParse(text.value).success) return { problem: 'Enter a valid email address' };
      return checkPattern(attribute, text);
    }
    case 'phone':
      return checkPattern(attribute, checkPhone(raw));
    case 'url':
      return checkPattern(attribute, checkUrl(attribute, raw));
    case 'date':
      return checkDate(attribute, raw);
    case 'number':
      return checkNumber(attribute, raw);
    case 'boolean':
      return checkBoolean(raw);
    case 'enum':
      return checkEnum(attribute, raw);
    case 'address':
      return checkAddress(raw);
  }
}

/**
 * What a form posted for an attribute: its field, or for an address its part fields, named
 * <name>.<part> in the page and read back as one object (the form parser nests dotted names).
 */
export function formInput(attribute: Attribute, form: Record<string, unknown>): unknown {
  const posted = form[attribute.name];
  if (attribute.type !== 'address') return posted;
  if (typeof posted !== 'object' || posted === null) return {};
  return Object.fromEntries(
    ADDRESS_PARTS.map(({ part }) => [part, (posted as Record<string, unknown>)[part]]).filter(([, v]) => typeof v === 'string'),
  );
}
