import { ohm, type OhmGrammar } from './ohm';

/**
 * IoT Hub's query language, as far as the emulator answers it: `SELECT [TOP n] * | items FROM devices |
 * devices.modules | devices.jobs [WHERE condition] [GROUP BY paths]`. Keywords are case-insensitive, property
 * names are not (as in IoT Hub). Anything the grammar does not describe (ORDER BY, functions other than
 * IS_DEFINED and COUNT, arithmetic, subqueries) fails to parse and is answered 400, never half-understood.
 *
 * Lists (`AND`, `OR`, `NOT`, select items) are iterations, not recursive rules: only parentheses nest, and the
 * parser bounds those before matching (parse-query.ts), so no input can make the matcher recurse deeply.
 */
const SOURCE = String.raw`
IotHubQuery {
  Query = Select From Where? GroupBy?

  Select = selectKw Top? Projection
  Top = topKw integer
  Projection = "*"                                -- all
             | NonemptyListOf<SelectItem, ",">    -- items
  SelectItem = countKw "(" ")" Alias?         -- count
             | path Alias?                        -- property
  Alias = asKw name

  From = fromKw collection
  collection = caseInsensitive<"devices"> "." caseInsensitive<"modules"> ~identRest  -- modules
             | caseInsensitive<"devices"> "." caseInsensitive<"jobs"> ~identRest     -- jobs
             | caseInsensitive<"devices"> ~identRest ~"."                              -- devices

  Where = whereKw Or
  GroupBy = groupKw byKw NonemptyListOf<path, ",">

  Or = NonemptyListOf<And, orKw>
  And = NonemptyListOf<Unary, andKw>
  Unary = notKw* Primary
  Primary = "(" Or ")"                                        -- parens
          | isdefinedKw "(" path ")"                     -- defined
          | Operand ninKw "[" ListOf<Literal, ","> "]"    -- nin
          | Operand inKw "[" ListOf<Literal, ","> "]"     -- in
          | Operand comparison Operand                        -- compare
  Operand = Literal | path
  comparison = "<=" | ">=" | "<>" | "!=" | "=" | "<" | ">"

  Literal = string | number | trueKw | falseKw | nullKw
  string = "'" (~"'" ~"\\" any | escape)* "'"   -- single
         | "\"" (~"\"" ~"\\" any | escape)* "\""  -- double
  escape = "\\" any
  number = "-"? digit+ ("." digit+)? (caseInsensitive<"e"> ("+" | "-")? digit+)?
  integer = digit+

  path = name ("." segment)*
  name = ~reserved identStart identRest*
  segment = identStart identRest*
  identStart = letter | "_" | "$"
  identRest = alnum | "_" | "$" | "-"

  // Keywords: case-insensitive whole words ("selected" is a name, not SELECT followed by "ed").
  andKw = caseInsensitive<"and"> ~identRest
  asKw = caseInsensitive<"as"> ~identRest
  byKw = caseInsensitive<"by"> ~identRest
  countKw = caseInsensitive<"count"> ~identRest
  falseKw = caseInsensitive<"false"> ~identRest
  fromKw = caseInsensitive<"from"> ~identRest
  groupKw = caseInsensitive<"group"> ~identRest
  inKw = caseInsensitive<"in"> ~identRest
  isdefinedKw = caseInsensitive<"is_defined"> ~identRest
  ninKw = caseInsensitive<"nin"> ~identRest
  notKw = caseInsensitive<"not"> ~identRest
  nullKw = caseInsensitive<"null"> ~identRest
  orKw = caseInsensitive<"or"> ~identRest
  selectKw = caseInsensitive<"select"> ~identRest
  topKw = caseInsensitive<"top"> ~identRest
  trueKw = caseInsensitive<"true"> ~identRest
  whereKw = caseInsensitive<"where"> ~identRest
  reserved = (caseInsensitive<"select"> | caseInsensitive<"from"> | caseInsensitive<"where">
           | caseInsensitive<"group"> | caseInsensitive<"by"> | caseInsensitive<"and"> | caseInsensitive<"or">
           | caseInsensitive<"not"> | caseInsensitive<"in"> | caseInsensitive<"nin"> | caseInsensitive<"as">
           | caseInsensitive<"top"> | caseInsensitive<"true"> | caseInsensitive<"false">
           | caseInsensitive<"null">) ~identRest
}
`;

export const queryGrammar: OhmGrammar = ohm.grammar(SOURCE);
