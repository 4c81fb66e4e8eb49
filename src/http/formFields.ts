// A form field as the screens describe it, for views/partials/field.ejs: forms are drawn from
// lists of these (sign-up, the profile prompt, the account area's profile page), so a field
// looks and behaves the same wherever it appears.
export interface FormField {
  /** The form field's name (and the element's id). An address's parts are named <name>.<part>. */
  name: string;
  label: string;
  hint?: string;
  /** A text box, a list to choose from, a yes/no choice, or an address (a group of text boxes). */
  kind: 'input' | 'select' | 'yesno' | 'address';
  type?: 'email' | 'password' | 'text' | 'tel' | 'date' | 'number' | 'url';
  autocomplete?: string;
  required: boolean;
  /** Shown again after an error (never for secrets). */
  keep: boolean;
  maxlength?: number;
  min?: string;
  max?: string;
  step?: string;
  pattern?: string;
  options?: { value: string; label: string }[];
  /** An address's part fields. */
  parts?: FormField[];
}
