// Shapes shared by the admin API's operations: list queries and pages, timestamps.
import { z } from 'zod';

export const timestamp = z.iso.datetime({ offset: true });

/** Query of a paginated list; unknown parameters are refused like unknown body fields. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: 'Items per page (1-200, default 50)' }),
  cursor: z.string().max(1000).optional().meta({ description: "The previous page's next_cursor" }),
};

/** A page of items; `next_cursor` is null on the last page (it is also sent as a Link header). */
export const page = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() }).meta({ id });

export const identifierParam = (name: string) =>
  z
    .string()
    .min(1)
    .max(2000)
    .meta({ description: `The ${name}` });
