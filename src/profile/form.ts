// Profile attributes as form fields (views/partials/field.ejs), and a posted form read back as
// checked values: the same for the sign-up form, the profile prompt and the account area. Only
// the attributes a form showed are read from it; anything else posted is ignored.
import type { FormField } from '../http/formFields.ts';
import { localized } from '../http/language.ts';
import type { Attribute } from './schema.ts';
import { ADDRESS_PARTS, checkValue, formInput, type ProfileValue } from './values.ts';

const INPUT_TYPES: Partial<Record<Attribute['type'], FormField['type']>> = {
  string: 'text',
  email: 'email',
  phone: 'tel',
  date: 'date',
  number: 'number',
  url: 'url',
};

/** One attribute as a field; `required` is whether this form needs it (a rule may make it so). */
export function attributeField(attribute: Attribute, required: boolean, languages: readonly string[]): FormField {
  const base = {
    name: attribute.name,
    label: localized(attribute.label, languages),
    hint: attribute.help ? localized(attribute.help, languages) : undefined,
    required,
    keep: true,
    autocomplete: attribute.autocomplete ?? 'off',
  };
  switch (attribute.type) {
    case 'enum':
      return {
        ...base,
        kind: 'select',
        options: (attribute.values ?? []).map((v) => ({ value: v.value, label: localized(v.label, languages) })),
      };
    case 'boolean':
      return { ...base, kind: 'yesno' };
    case 'address':
      return {
        ...base,
        kind: 'address',
        parts: ADDRESS_PARTS.map((p) => ({
          name: `${attribute.name}.${p.part}`,
          label: p.label,
          kind: 'input',
          type: 'text',
          autocomplete: p.autocomplete,
          // A complete address has a street, a town and a country; region and postal code vary by country.
          required: required && ['street_address', 'locality', 'country'].includes(p.part),
          keep: true,
          maxlength: p.maxLength,
        })),
      };
    default:
      return {
        ...base,
        kind: 'input',
        type: INPUT_TYPES[attribute.type] ?? 'text',
        maxlength: attribute.type === 'number' || attribute.type === 'date' ? undefined : attribute.maxLength,
        min: attribute.min === undefined ? undefined : String(attribute.min),
        max: attribute.max === undefined ? undefined : String(attribute.max),
        step: attribute.type === 'number' ? (attribute.integer ? '1' : 'any') : undefined,
      };
  }
}

/** A stored value as the form's field values (an address fills its part fields). */
export function fieldValues(attribute: Attribute, value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (attribute.type === 'address' && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, string>).map(([part, text]) => [`${attribute.name}.${part}`, String(text)]),
    );
  return { [attribute.name]: String(value) };
}

/** What a posted form said for one attribute, as it is shown again after an error. */
export function postedValues(attribute: Attribute, form: Record<string, unknown>): Record<string, string> {
  const input = formInput(attribute, form);
  if (attribute.type === 'address') return fieldValues(attribute, input);
  return typeof input === 'string' ? { [attribute.name]: input.slice(0, 10_000) } : {};
}

export interface ReadForm {
  /** Checked values of the attributes that were filled in. */
  values: Record<string, ProfileValue>;
  /** Attributes left empty. */
  empty: string[];
  /** What to fix, by field name. */
  problems: Record<string, string>;
}

/** Reads the shown attributes from a posted form; `required` names those that must not be empty. */
export function readProfileForm(
  shown: { attribute: Attribute; required: boolean }[],
  form: Record<string, unknown>,
  languages: readonly string[],
): ReadForm {
  const read: ReadForm = { values: {}, empty: [], problems: {} };
  for (const { attribute, required } of shown) {
    const checked = checkValue(attribute, formInput(attribute, form));
    if ('problem' in checked) read.problems[attribute.name] = checked.problem;
    else if ('value' in checked) read.values[attribute.name] = checked.value;
    else if (required) read.problems[attribute.name] = `${localized(attribute.label, languages)} is required`;
    else read.empty.push(attribute.name);
  }
  return read;
}

/**
 * Which of the values read differ from what the profile holds (to store) and which are as they
 * were (a confirmation, when the user was shown them to check).
 */
export function comparedWith(
  profile: Record<string, unknown>,
  values: Record<string, ProfileValue>,
): { changed: Record<string, ProfileValue>; unchanged: string[] } {
  // Stored values are plain JSON (text, numbers, booleans, an address object of text parts).
  const same = (name: string) => JSON.stringify(profile[name]) === JSON.stringify(values[name]);
  const names = Object.keys(values);
  return {
    changed: Object.fromEntries(names.filter((name) => !same(name)).map((name) => [name, values[name]])),
    unchanged: names.filter(same),
  };
}
