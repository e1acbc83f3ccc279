/**
 * `builtin:stories`: a seeded generator of simple children's stories written for storyteller, so training works
 * offline with no files. Each story picks characters, a place and an object, then one of several plots (a want,
 * a problem, dialogue, a resolution, sometimes a lesson), each step drawn from a few phrasings. Small vocabulary,
 * fixed grammar, enough variety that a small model has something to learn. No text here is copied from elsewhere.
 */
import { makeRng } from "./rng.ts";

/** Bumped whenever the generator's output changes, so cached token files of old stories are not reused. */
export const STORIES_VERSION = 1;

interface Who {
  name: string;
  /** "girl", "little rabbit", ... */
  kind: string;
  he: string;
  him: string;
  his: string;
}

const GIRLS = ["Lily", "Mia", "Sara", "Anna", "Lucy", "Zoe", "Ella", "Rosa", "Nora", "Ivy", "Amy", "Kim"];
const BOYS = ["Tom", "Ben", "Max", "Sam", "Jack", "Leo", "Finn", "Kai", "Theo", "Tim", "Joe", "Dan"];
const PETS = [
  "Pip",
  "Bella",
  "Rusty",
  "Daisy",
  "Coco",
  "Benny",
  "Tilly",
  "Milo",
  "Rosie",
  "Bo",
  "Fluff",
  "Sunny",
];
const ANIMALS = [
  "rabbit",
  "mouse",
  "bear",
  "duck",
  "puppy",
  "cat",
  "bird",
  "fox",
  "turtle",
  "frog",
  "squirrel",
  "pig",
];
const TRAITS = [
  "kind",
  "curious",
  "brave",
  "shy",
  "silly",
  "helpful",
  "clever",
  "happy",
  "quiet",
  "busy",
  "little",
];
const PLACES: [string, string][] = [
  ["the park", "The grass was green and the sun was warm."],
  ["the forest", "The trees were tall and the birds sang."],
  ["the garden", "There were red flowers and big green leaves."],
  ["the beach", "The sand was soft and the waves were blue."],
  ["the farm", "There were cows, hens and a big red barn."],
  ["the pond", "The water was clear and the ducks swam in it."],
  ["the hill", "From the top, you could see the whole town."],
  ["the meadow", "Yellow flowers grew everywhere."],
  ["the yard", "There was a big tree with a swing."],
  ["the town", "The streets were busy and the shops were bright."],
];
const THINGS = [
  "ball",
  "kite",
  "hat",
  "toy boat",
  "stone",
  "book",
  "box",
  "teddy bear",
  "drum",
  "balloon",
  "shell",
  "toy car",
  "crayon",
  "bike",
  "cup",
  "doll",
  "train",
  "blanket",
];
const COLORS = ["red", "blue", "yellow", "green", "shiny", "soft", "big", "little", "new", "pink", "old"];
const OPENINGS = [
  "Once upon a time",
  "One day",
  "One sunny morning",
  "One rainy day",
  "Long ago",
  "One windy afternoon",
];
const FEEL_GOOD = ["happy", "glad", "proud", "excited"];
const FEEL_BAD = ["sad", "worried", "upset", "scared"];
const SEARCH = [
  "under the bed",
  "behind a big tree",
  "in the tall grass",
  "near the pond",
  "under a rock",
  "in a box",
];
const HELPERS = ["Mom", "Dad", "Grandma", "Grandpa", "an old owl", "a wise turtle"];
const FOODS = ["carrots", "peas", "soup", "fish", "beans", "green apples"];
const MAKES: [string, string, string][] = [
  ["cake", "the flour spilled on the floor", "cleaned up and mixed it again"],
  ["sand castle", "a big wave washed it away", "built it again, higher from the water"],
  ["picture", "the paint ran down the paper", "let it dry and painted once more"],
  ["tower of blocks", "it fell down with a loud crash", "made the bottom wider and tried again"],
  ["little boat", "it would not float", "tied on a leaf as a sail and tried again"],
];

/** One story, drawn from `rng`. */
export function generateStory(rng: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
  const chance = (p: number) => rng() < p;
  const person = (avoid?: string): Who => {
    for (;;) {
      const w = makeWho(pick, chance);
      if (w.name !== avoid) return w;
    }
  };
  const hero = person(), friend = person(hero.name);
  const [place, placeLine] = pick(PLACES);
  const thing = `${pick(COLORS)} ${pick(THINGS)}`;
  const trait = pick(TRAITS);
  const s: string[] = [];
  s.push(`${pick(OPENINGS)}, there was ${article(trait)} ${trait} ${hero.kind} named ${hero.name}.`);
  if (chance(0.6)) s.push(`${cap(hero.he)} lived near ${place}. ${placeLine}`);
  const intro = s.length;
  pick(PLOTS)({ hero, friend, place, thing, pick, chance, s });
  const mid = intro + Math.floor((s.length - intro) / 2) + (chance(0.5) ? 1 : 0);
  const paragraphs = [s.slice(0, intro), s.slice(intro, mid), s.slice(mid)];
  if (chance(0.5)) paragraphs.push([pick(ENDINGS)(hero, friend)]);
  return paragraphs.map((p) => p.join(" ")).join("\n");
}

function makeWho(pick: <T>(xs: readonly T[]) => T, chance: (p: number) => boolean): Who {
  const girl = chance(0.5);
  const pron = girl ? { he: "she", him: "her", his: "her" } : { he: "he", him: "him", his: "his" };
  if (chance(0.5)) return { name: pick(girl ? GIRLS : BOYS), kind: girl ? "girl" : "boy", ...pron };
  return { name: pick(PETS), kind: pick(ANIMALS), ...pron };
}

interface Scene {
  hero: Who;
  friend: Who;
  place: string;
  thing: string;
  pick: <T>(xs: readonly T[]) => T;
  chance: (p: number) => boolean;
  s: string[];
}

const ENDINGS: ((h: Who, f: Who) => string)[] = [
  (h, f) => `From that day on, ${h.name} and ${f.name} were best friends.`,
  (h) => `That night, ${h.name} went to bed with a big smile.`,
  (h, f) => `${h.name} and ${f.name} played together until the sun went down.`,
  (h) => `${h.name} learned that it is good to try again.`,
  (h) => `And ${h.name} was happy all day long.`,
];

const PLOTS: ((c: Scene) => void)[] = [
  // The lost thing: a search with a friend.
  ({ hero: h, friend: f, place, thing, pick, chance, s }) => {
    s.push(`${h.name} had ${article(thing)} ${thing}. ${cap(h.he)} loved it very much.`);
    s.push(
      `${cap(h.he)} took it to ${place} to play. But when it was time to go home, the ${thing} was gone!`,
    );
    s.push(`${h.name} felt ${pick(FEEL_BAD)}. "Where is my ${thing}?" ${h.he} cried.`);
    s.push(`${f.name} the ${f.kind} saw ${h.him} and said, "Don't be sad. I will help you look."`);
    const spots = [pick(SEARCH), pick(SEARCH), pick(SEARCH)];
    s.push(`They looked ${spots[0]}. It was not there. They looked ${spots[1]}. It was not there either.`);
    if (chance(0.5)) {
      s.push(`"Maybe we will never find it," said ${h.name}. "Let's look one more time," said ${f.name}.`);
    }
    s.push(`At last, ${f.name} looked ${spots[2]} and shouted, "I found it!"`);
    s.push(`${h.name} hugged ${h.his} ${thing}. "Thank you, ${f.name}! You are a good friend."`);
  },
  // Something out of reach, and an idea.
  ({ hero: h, friend: f, thing, pick, s }) => {
    const high = pick(["up in a tree", "on the roof", "on a high shelf", "on top of a big rock"]);
    s.push(`One day, ${h.name} saw ${article(thing)} ${thing} ${high}. ${cap(h.he)} wanted it so much.`);
    s.push(
      `${cap(h.he)} jumped and jumped, but ${h.he} could not reach it. ${h.name} felt ${pick(FEEL_BAD)}.`,
    );
    s.push(
      `Then ${f.name} came by. "What is wrong?" asked ${f.name}. "I can't reach the ${thing}," said ${h.name}.`,
    );
    const idea = pick([
      ["a long stick", "pushed the THING down with the stick"],
      ["a little ladder", "climbed up the ladder and got the THING"],
      ["a big box", "stood on the box and picked up the THING"],
    ]);
    s.push(`${f.name} had an idea. "Let's get ${idea[0]}!" ${cap(f.he)} ran and came back with it.`);
    s.push(`${h.name} ${idea[1].replace("THING", thing)}. "We did it!" they said together.`);
    s.push(`${h.name} was so ${pick(FEEL_GOOD)}. ${cap(h.he)} let ${f.name} play with the ${thing} too.`);
  },
  // Two friends and one toy: learning to share.
  ({ hero: h, friend: f, place, thing, pick, chance, s }) => {
    s.push(`${h.name} and ${f.name} were playing at ${place}. They found ${article(thing)} ${thing}.`);
    s.push(
      `"It is mine!" said ${h.name}. "No, I saw it first!" said ${f.name}. They both pulled and pulled.`,
    );
    if (chance(0.5)) s.push(`Then, oh no! The ${thing} fell in the mud. Now nobody could play with it.`);
    else s.push(`Soon they were both ${pick(FEEL_BAD)}, and nobody was having fun.`);
    const helper = pick(HELPERS);
    s.push(
      `${cap(helper)} saw them and said, "When you share, you both can play. Why don't you take turns?"`,
    );
    s.push(`${h.name} looked at ${f.name}. "You can go first," ${h.he} said. ${f.name} smiled.`);
    s.push(`They took turns with the ${thing} all day, and it was more fun than playing alone.`);
    s.push(`${h.name} learned that sharing makes everyone happy.`);
  },
  // A fear, and being brave.
  ({ hero: h, friend: f, pick, s }) => {
    const [fear, why] = pick([
      ["the dark", "the dark is just the night, and the stars are there to keep you company"],
      ["thunder", "thunder is only the sky making a big noise, and it cannot hurt you"],
      ["the big dog next door", "the dog just wants to play and say hello"],
      ["the water", "the water is fun if you go slowly and hold on to a friend"],
    ]);
    s.push(`${h.name} was afraid of ${fear}. Every time ${h.he} thought about it, ${h.his} knees shook.`);
    s.push(`One day, ${h.he} told ${f.name}, "I am scared of ${fear}. What can I do?"`);
    s.push(`${f.name} held ${h.his} hand and said, "Don't be afraid. ${cap(why)}."`);
    s.push(`${h.name} took a deep breath. ${cap(h.he)} was brave and tried, one little step at a time.`);
    s.push(`Soon ${h.he} was not scared anymore. "That was not so bad!" ${h.he} laughed.`);
    s.push(
      `${h.name} felt ${pick(FEEL_GOOD)}. ${cap(h.he)} knew that with a friend, ${h.he} could be brave.`,
    );
  },
  // Making something, a mistake, trying again.
  ({ hero: h, friend: f, pick, s }) => {
    const [what, oops, fix] = pick(MAKES);
    const forWho = pick(["Mom", "Dad", f.name, "Grandma"]);
    s.push(`${h.name} wanted to make ${article(what)} ${what} for ${forWho}. ${cap(h.he)} worked very hard.`);
    s.push(`But then ${oops}. ${h.name} was ${pick(["sad", "upset"])}. "Now it is ruined," ${h.he} said.`);
    s.push(
      `${cap(h.his)} friend ${f.name} came to help. "It is okay. We can fix it together," said ${f.name}.`,
    );
    s.push(`So they ${fix}. This time it worked, and the ${what} was even better than before.`);
    s.push(`When ${forWho} saw it, ${forWho} said, "Wow! This is beautiful. Thank you!"`);
    s.push(`${h.name} felt warm and ${pick(FEEL_GOOD)} inside.`);
  },
  // Helping a small animal.
  ({ hero: h, place, pick, chance, s }) => {
    const [animal, trouble, help] = pick([
      ["bird", "had a hurt wing", "made a soft bed of leaves and gave it water"],
      ["kitten", "was lost and crying", "gave it some milk and looked for its home"],
      ["duck", "was stuck in a net", "pulled the net away very slowly"],
      ["puppy", "was cold and wet from the rain", "wrapped it in a warm blanket"],
    ]);
    s.push(`One day at ${place}, ${h.name} found a little ${animal}. The ${animal} ${trouble}.`);
    s.push(`"Poor little ${animal}," said ${h.name}. "I will help you."`);
    s.push(`${cap(h.he)} ${help}. The ${animal} looked at ${h.him} with big eyes.`);
    s.push(`Every day, ${h.name} came to see the ${animal}. Soon it was strong and well again.`);
    if (chance(0.5)) {
      s.push(`One morning the ${animal} went away, but the next day it came back to say thank you.`);
    } else s.push(`The ${animal} stayed with ${h.name}, and they became the best of friends.`);
    s.push(`${h.name} was ${pick(FEEL_GOOD)} that ${h.he} had helped.`);
  },
  // A race where helping matters more than winning.
  ({ hero: h, friend: f, pick, s }) => {
    const goal = pick(["the big tree", "the top of the hill", "the old gate", "the red barn"]);
    s.push(`${h.name} and ${f.name} liked to race. "Let's race to ${goal}!" said ${f.name}.`);
    s.push(`They ran as fast as they could. ${h.name} was in front. ${cap(h.he)} was going to win!`);
    s.push(`But then ${f.name} fell down and hurt ${f.his} knee. "Ouch!" ${f.he} cried.`);
    s.push(`${h.name} stopped running. ${cap(h.he)} went back and helped ${f.name} stand up.`);
    s.push(`They walked to ${goal} together, slowly, side by side.`);
    s.push(`"You could have won," said ${f.name}. "Helping you is better than winning," said ${h.name}.`);
  },
  // Lost on the way home.
  ({ hero: h, friend: f, pick, chance, s }) => {
    const guide = pick(["the little river", "the path of white stones", "the sound of the town bell"]);
    s.push(`${h.name} went for a walk in the woods. ${cap(h.he)} saw a pretty butterfly and followed it.`);
    s.push(`Soon ${h.he} looked around. Everything looked new. ${h.name} was lost!`);
    s.push(
      `${cap(h.he)} sat down and felt ${
        pick(FEEL_BAD)
      }. Then ${h.he} heard a voice. It was ${f.name} the ${f.kind}.`,
    );
    s.push(`"Are you lost?" asked ${f.name}. "Yes," said ${h.name}. "I want to go home."`);
    s.push(`"Follow ${guide}," said ${f.name}. "It will take you home." So they went together.`);
    s.push(`At last ${h.name} saw ${h.his} house. ${chance(0.5) ? "Mom" : "Dad"} gave ${h.him} a big hug.`);
    s.push(`${h.name} learned to stay close to home and never follow butterflies too far.`);
  },
  // Trying a new food.
  ({ hero: h, pick, s }) => {
    const food = pick(FOODS), helper = pick(["Mom", "Dad", "Grandma", "Grandpa"]);
    s.push(`At dinner, ${helper} put some ${food} on ${h.name}'s plate.`);
    s.push(
      `"I don't like ${food}," said ${h.name}. "I have never tried them, but I know I don't like them."`,
    );
    s.push(`${helper} smiled. "How do you know if you never tried? Just take one little bite."`);
    s.push(`${h.name} made a face. Then ${h.he} took a very small bite. ${cap(h.he)} chewed and chewed.`);
    s.push(`"Yum!" said ${h.name}. "They are good!" ${cap(h.he)} ate all the ${food} on ${h.his} plate.`);
    s.push(`${helper} laughed. ${h.name} learned that new things can be good if you try them.`);
  },
  // A surprise for a friend.
  ({ hero: h, friend: f, thing, pick, s }) => {
    s.push(`Tomorrow was ${f.name}'s birthday. ${h.name} wanted to give ${f.him} a surprise.`);
    s.push(
      `${cap(h.he)} looked at ${h.his} things. ${cap(h.he)} had ${
        article(thing)
      } ${thing}, and it was ${h.his} favorite.`,
    );
    s.push(
      `${h.name} thought for a long time. Then ${h.he} put the ${thing} in a box and tied a ribbon on it.`,
    );
    s.push(`The next day, ${h.he} gave the box to ${f.name}. "Happy birthday!" said ${h.name}.`);
    s.push(`${f.name} opened it and jumped up and down. "The ${thing}! I love it!"`);
    s.push(`${h.name} felt ${pick(FEEL_GOOD)}. Giving was even better than getting.`);
  },
];

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `count` stories from `seed`; the same arguments always give the same stories. */
export function* generateStories(opts: { count: number; seed: number }): Generator<string> {
  const rng = makeRng(opts.seed * 0x9e3779b1 + 0x51ed27);
  for (let i = 0; i < opts.count; i++) yield generateStory(rng);
}
